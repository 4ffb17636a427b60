"""utils.data.mot: MOTChallenge track files and sequence folders, round trips and malformed files."""

import numpy as np
import pytest

from utils.data.mot import read_mot_sequence, read_mot_txt, write_mot_sequence, write_mot_txt
from utils.data.video import Video, traffic_video

VIDEO = traffic_video(6, 48, seed=3)
SEQINFO = ("[Sequence]\nname=tiny\nimDir=img1\nframeRate=10\nseqLength=2\nimWidth=8\nimHeight=6\nimExt=.png\n")


def test_sequence_round_trip(tmp_path):
    path = write_mot_sequence(tmp_path, VIDEO, "seq")
    assert path == tmp_path / "seq"
    assert sorted(p.name for p in (path / "img1").iterdir()) == [f"{f:06d}.png" for f in range(1, 7)]
    info = (path / "seqinfo.ini").read_text()
    assert "seqLength=6" in info and "imWidth=48" in info and "imExt=.png" in info
    back = read_mot_sequence(path)
    assert back.frames.shape == VIDEO.frames.shape and back.frames.dtype == np.float32
    assert np.abs(back.frames - VIDEO.frames).max() <= 0.5 / 255 + 1e-6
    assert sum(map(len, VIDEO.boxes)) > 10
    for f in range(VIDEO.n_frames):
        np.testing.assert_allclose(back.boxes[f], VIDEO.boxes[f], atol=1e-4)
        np.testing.assert_array_equal(back.ids[f], VIDEO.ids[f])
        np.testing.assert_array_equal(back.labels[f], VIDEO.labels[f])
        np.testing.assert_allclose(back.visibility[f], VIDEO.visibility[f], atol=1e-6)
    assert not list(tmp_path.glob(".*"))  # no partial folder left behind


def test_write_sequence_does_not_replace_unless_asked(tmp_path):
    write_mot_sequence(tmp_path, VIDEO, "seq")
    with pytest.raises(FileExistsError, match="seq exists"):
        write_mot_sequence(tmp_path, VIDEO, "seq")
    other = traffic_video(2, 32, seed=1)
    assert read_mot_sequence(write_mot_sequence(tmp_path, other, "seq", overwrite=True)).n_frames == 2
    (tmp_path / "mine").mkdir()
    with pytest.raises(FileExistsError, match="is not a MOT sequence"):
        write_mot_sequence(tmp_path, other, "mine", overwrite=True)


def test_txt_round_trip_with_empty_frames_and_fractional_boxes(tmp_path):
    boxes = [np.array([[1.5, 2.25, 10.0, 20.125], [0, 0, 3, 4]], np.float32), np.zeros((0, 4), np.float32),
             np.array([[-2.0, 5.0, 7.3, 9.9]], np.float32), np.zeros((0, 4), np.float32)]
    ids = [np.array([3, 7]), np.array([], int), np.array([3]), np.array([], int)]
    scores = [np.array([0.9, 0.25]), np.array([]), np.array([0.5]), np.array([])]
    path = tmp_path / "res.txt"
    write_mot_txt(path, boxes, ids, scores=scores)
    assert path.read_text().splitlines()[0] == "1,3,2.5,3.25,8.5,17.875,0.9,-1,-1"  # MOT pixels count from 1
    back = read_mot_txt(path, n_frames=4)
    assert len(back["boxes"]) == 4 and back["boxes"][1].shape == (0, 4) and back["boxes"][3].shape == (0, 4)
    for f in range(4):
        np.testing.assert_allclose(back["boxes"][f], boxes[f], atol=1e-4)
        np.testing.assert_array_equal(back["ids"][f], ids[f])
        np.testing.assert_allclose(back["scores"][f], scores[f], atol=1e-6)
        assert np.all(back["labels"][f] == -1) and np.all(back["visibility"][f] == -1)
        assert back["ids"][f].dtype == np.int64 and back["labels"][f].dtype == np.int32
    assert len(read_mot_txt(path)["boxes"]) == 3  # by default up to the last frame in the file


def test_txt_with_labels_and_visibility_and_no_scores(tmp_path):
    path = tmp_path / "gt.txt"
    write_mot_txt(path, [np.array([[0, 0, 2, 2]])], [np.array([1])], labels=[np.array([2])],
                  visibility=[np.array([0.5])])
    assert path.read_text() == "1,1,1,1,2,2,1,2,0.5\n"
    back = read_mot_txt(path)
    assert back["labels"][0].tolist() == [2] and back["scores"][0].tolist() == [1.0]


@pytest.mark.parametrize("line, expected", [
    ("2,5,11,21,30,40", ([10, 20, 40, 60], 5, -1, 1.0, -1)),  # 6 columns: the box only
    ("2,5,11,21,30,40,0.75", ([10, 20, 40, 60], 5, -1, 0.75, -1)),
    ("2,5,11,21,30,40,1,3", ([10, 20, 40, 60], 5, 3, 1.0, -1)),
    ("2,5,11,21,30,40,1,3,0.4", ([10, 20, 40, 60], 5, 3, 1.0, 0.4)),  # gt.txt
    ("2,-1,11,21,30,40,0.8,-1,-1,-1", ([10, 20, 40, 60], -1, -1, 0.8, -1)),  # det.txt / results
    (" 2 , 5 , 11.5 , 21 , 30 , 40 , 1 , 3 , 1 ", ([10.5, 20, 40.5, 60], 5, 3, 1.0, 1)),
])
def test_read_txt_accepts_each_kind_of_file(tmp_path, line, expected):
    path = tmp_path / "t.txt"
    path.write_text(line + "\n\n")
    back = read_mot_txt(path)
    box, track, label, score, vis = expected
    assert len(back["boxes"]) == 2 and len(back["boxes"][0]) == 0
    assert back["boxes"][1].tolist() == [box] and back["ids"][1].tolist() == [track]
    assert back["labels"][1].tolist() == [label] and back["visibility"][1].tolist() == pytest.approx([vis])
    assert back["scores"][1].tolist() == pytest.approx([score])


@pytest.mark.parametrize("text, n_frames, match", [
    ("1,1,0,0,2,2,1,1,1\n0,1,0,0,2,2,1,1,1\n", None, r"line 2: frame 0 is unknown: expected a whole number in >= 1"),
    ("1,1,0,0,2,2,1,1,1\n\n4,1,0,0,2,2,1,1,1\n", 3, r"line 3: frame 4 is unknown: expected a whole number in 1..3"),
    ("1.5,1,0,0,2,2\n", None, "line 1: frame 1.5 is unknown"),
    ("1,1,0,0,-2,2,1,1,1\n", None, r"line 1: bb_width -2 and bb_height 2: expected both positive"),
    ("1,1,0,0,2,0\n", None, r"line 1: bb_width 2 and bb_height 0: expected both positive"),
    ("1,1,0,0,2\n", None, r"line 1: 5 comma-separated columns: expected 6 to 10"),
    ("1,1,0,0,2,2,1,1,1,1,1\n", None, r"line 1: 11 comma-separated columns"),
    ("1,1,0,abc,2,2\n", None, r"line 1: column 4 \(bb_top\) is 'abc': expected a finite number"),
    ("1,1,0,0,2,nan\n", None, r"line 1: column 6 \(bb_height\) is 'nan'"),
    ("1,1,0,0,2,2,1,1,1\n1,1,5,5,2,2,1,1,1\n", None, r"line 2: frame 1 already has id 1 \(line 1\)"),
    ("1,0,0,0,2,2\n", None, "line 1: id 0: expected a whole number >= 1"),
    ("1,1,0,0,2,2,1,1,1.5\n", None, r"line 1: visibility 1.5: expected a fraction in \[0, 1\]"),
    ("1,1,0,0,2,2,1,1.5\n", None, "line 1: class 1.5: expected a whole number"),
])
def test_read_txt_names_the_file_and_line_of_a_bad_entry(tmp_path, text, n_frames, match):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"bad.txt, {match}"):
        read_mot_txt(path, n_frames)


def test_motmetrics_reads_our_files_as_we_do(tmp_path):
    """motmetrics' MOT loader (which undoes MOT's 1-based pixels) gives back the boxes that were written."""
    mm = pytest.importorskip("motmetrics")
    path = tmp_path / "gt.txt"
    write_mot_txt(path, VIDEO.boxes, VIDEO.ids, labels=VIDEO.labels, visibility=VIDEO.visibility)
    table = mm.io.loadtxt(str(path), fmt="mot15-2D")
    ours = read_mot_txt(path)
    for f in range(VIDEO.n_frames):
        rows = table.loc[f + 1]
        np.testing.assert_array_equal(rows.index.to_numpy(), ours["ids"][f])
        x, y, w, h = (rows[c].to_numpy() for c in ("X", "Y", "Width", "Height"))
        np.testing.assert_allclose(np.stack([x, y, x + w, y + h], 1), VIDEO.boxes[f], atol=1e-4)
        np.testing.assert_allclose(rows["Visibility"].to_numpy(), VIDEO.visibility[f], atol=1e-6)


def test_read_txt_refuses_bad_arguments_and_binary_files(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="x.txt is not a text file"):
        read_mot_txt(path)
    with pytest.raises(ValueError, match="n_frames=0: expected a positive integer"):
        read_mot_txt(path, 0)


@pytest.mark.parametrize("kwargs, match", [
    ({"boxes": np.zeros((1, 4))}, "boxes is a ndarray: expected a list"),
    ({"ids": [np.array([1])] * 2}, "ids has 2 entries: expected a list with one array per frame"),
    ({"boxes": [np.array([[0, 0, 0, 2]])]}, r"boxes\[0\] has 1 box\(es\) of zero width or height"),
    ({"boxes": [np.array([[3, 0, 1, 2]])]}, r"boxes\[0\] has 1 box\(es\) with x2 < x1"),
    ({"ids": [np.array([0])]}, r"ids\[0\] has values in \[0, 0\]: expected integer track identities >= 1"),
    ({"ids": [np.array([1, 2])]}, r"ids\[0\] has 2 entries but boxes\[0\] has 1"),
    ({"scores": [np.array([np.nan])]}, r"scores\[0\] has 1 NaN"),
    ({"labels": [np.array([1.5])]}, r"labels\[0\] has fractional values"),
])
def test_write_txt_refuses_bad_input(tmp_path, kwargs, match):
    args = {"boxes": [np.array([[0, 0, 2, 2]])], "ids": [np.array([1])], **kwargs}
    with pytest.raises(ValueError, match=match):
        write_mot_txt(tmp_path / "out.txt", args.pop("boxes"), args.pop("ids"), **args)
    assert not (tmp_path / "out.txt").exists()


def tiny_sequence(tmp_path, seqinfo=SEQINFO, sizes=((8, 6), (8, 6)), gt="1,1,0,0,2,2,1,1,1\n"):
    from PIL import Image

    (tmp_path / "img1").mkdir()
    (tmp_path / "gt").mkdir()
    (tmp_path / "seqinfo.ini").write_text(seqinfo)
    for f, size in enumerate(sizes, start=1):
        Image.new("RGB", size, (255, 0, 0)).save(tmp_path / "img1" / f"{f:06d}.png")
    (tmp_path / "gt" / "gt.txt").write_text(gt)
    return tmp_path


def test_read_sequence_of_a_hand_written_folder(tmp_path):
    gt = "1,1,1,1,2,2,1,1,1\n2,1,2,1,2,2,0,1,1\n2,2,2,2,3,3,1,2,0.5\n"  # the conf-0 line is MOT's "ignore"
    v = read_mot_sequence(tiny_sequence(tmp_path, gt=gt))
    assert isinstance(v, Video) and v.frames.shape == (2, 6, 8, 3) and np.all(v.frames[..., 0] == 1)
    assert v.ids[0].tolist() == [1] and v.ids[1].tolist() == [2] and v.boxes[1].tolist() == [[1, 1, 4, 4]]


def test_read_sequence_without_ground_truth_has_no_objects(tmp_path):
    folder = tiny_sequence(tmp_path)
    (folder / "gt" / "gt.txt").unlink()
    v = read_mot_sequence(folder)
    assert v.n_frames == 2 and all(len(b) == 0 for b in v.boxes)


@pytest.mark.parametrize("seqinfo, sizes, gt, match", [
    (SEQINFO.replace("imExt=.png\n", ""), None, None, r"seqinfo.ini: \[Sequence\] lacks imExt"),
    (SEQINFO.replace("seqLength=2", "seqLength=two"), None, None, r"seqinfo.ini, line 5: seqLength='two'"),
    (SEQINFO.replace("imWidth=8", "imWidth=0"), None, None, r"seqinfo.ini, line 6: imWidth='0'"),
    (SEQINFO.replace("seqLength=2", "seqLength=3"), None, None, r"img1 holds 2 .png images but .*seqLength=3"),
    (SEQINFO, ((8, 6), (9, 6)), None, r"000002.png is 9 x 6 pixels: expected imWidth x imHeight = 8 x 6"),
    (SEQINFO, None, "1,1,0,0,2,2,1,1,1\n3,1,0,0,2,2,1,1,1\n", r"gt.txt, line 2: frame 3 is unknown"),
    (SEQINFO, None, "1,1,0,0,-1,2,1,1,1\n", r"gt.txt, line 1: bb_width -1"),
    (SEQINFO, None, "1,1,0,0,2,2,1,0,1\n", r"gt.txt: labels\[0\] holds 0"),
])
def test_read_sequence_names_the_bad_file(tmp_path, seqinfo, sizes, gt, match):
    folder = tiny_sequence(tmp_path, seqinfo, sizes or ((8, 6), (8, 6)), gt or "1,1,0,0,2,2,1,1,1\n")
    with pytest.raises(ValueError, match=match):
        read_mot_sequence(folder)


def test_read_sequence_of_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="seqinfo.ini is missing"):
        read_mot_sequence(tmp_path / "nothing")


def test_write_sequence_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="video is a list: expected a Video"):
        write_mot_sequence(tmp_path, [], "x")
    with pytest.raises(ValueError, match="name='a/b': expected a folder name"):
        write_mot_sequence(tmp_path, VIDEO, "a/b")
    with pytest.raises(ValueError, match="frame_rate=0"):
        write_mot_sequence(tmp_path, VIDEO, "x", frame_rate=0)
