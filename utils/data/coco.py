"""COCO format in and out: write scenes as a COCO folder, read any COCO folder back, write detections as results.

A COCO folder here is `images/` (PNG or JPEG files) next to `annotations.json`, whose "images",
"annotations" and "categories" follow https://cocodataset.org/#format-data: bbox is [x, y, w, h] in
pixels, segmentation is a run-length encoding (RLE) or a list of polygons, area is the mask's pixel
count. Image ids are 0..n-1 in the order of the data and annotation ids start at 1, because
pycocotools' COCOeval reads annotation id 0 as "no match". pycocotools does the RLE work.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from utils.course.checks import as_image_array, finite_in, whole_numbers, xyxy_boxes
from utils.data.pixels import to_uint8
from utils.data.scenes import Scenes, check_objects, check_scenes, read_image

ANNOTATIONS = "annotations.json"
IMAGES = "images"


def export_coco(data: Scenes, folder: str | Path, description: str = "synthetic scenes") -> Path:
    """Write data as a COCO folder (images/000000.png, ..., annotations.json); return the JSON's path.

    Images are stored as 8-bit PNG, so `load_coco` gives them back to within 1/255 (exactly
    round(255 * x) / 255). Instance masks are stored as compressed RLE, boxes as the COCO
    [x1, y1, x2 - x1, y2 - y1], and labels 1..C as category ids data.category_ids.
    """
    from PIL import Image
    from pycocotools import mask as mask_util

    check_scenes(data, action="to export")
    folder = Path(folder)
    (folder / IMAGES).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(len(data)):
        scene = data[i]
        _check_scene(scene, i, data.num_classes - 1)
        image_id = int(data.image_ids[i])
        file_name = f"{i:06d}.png"
        Image.fromarray(to_uint8(scene.image, name=f"data.images[{i}]")).save(folder / IMAGES / file_name)
        height, width = scene.image.shape[:2]
        images.append({"id": image_id, "file_name": file_name, "width": int(width), "height": int(height)})
        for box, label, mask in zip(scene.boxes, scene.labels, scene.instances):
            rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
            rle["counts"] = rle["counts"].decode("ascii")  # bytes are not JSON
            x1, y1, x2, y2 = (float(v) for v in box)
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": data.category_ids[int(label) - 1],
                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": int(np.count_nonzero(mask)), "iscrowd": 0,
                "segmentation": rle,
            })
    categories = [{"id": cid, "name": name, "supercategory": "shape"}
                  for cid, name in zip(data.category_ids, data.class_names[1:])]
    path = folder / ANNOTATIONS
    document = {"info": {"description": description}, "images": images, "annotations": annotations,
                "categories": categories}
    path.write_text(json.dumps(document))
    return path


def _check_scene(scene, i: int, n_classes: int) -> None:
    """What a COCO file must not hold: pixels outside [0, 1] (PNG would clip them), inverted boxes, unknown labels."""
    as_image_array(scene.image, f"data.images[{i}]", (3,))
    check_objects(scene.boxes, scene.labels, f"[{i}]", n_classes)  # the data may have been edited since it was made
    if np.shape(scene.instances) != (len(scene.boxes), *scene.image.shape[:2]):
        raise ValueError(f"data.instances[{i}] has shape {np.shape(scene.instances)}: expected one mask per box, "
                         f"({len(scene.boxes)}, {scene.image.shape[0]}, {scene.image.shape[1]})")


def _annotation_mask(ann: dict, height: int, width: int, path: Path) -> np.ndarray:
    """The (H, W) bool mask of one annotation, or a ValueError that names the file and the annotation."""
    where = f"{path}: annotation {ann.get('id')} of image {ann['image_id']} ({height}x{width})"
    seg = ann.get("segmentation")
    if isinstance(seg, dict) and list(seg.get("size", ())) != [height, width]:
        raise ValueError(f"{where} has an RLE of size {seg.get('size')!r}: expected [height, width] = "
                         f"[{height}, {width}]")
    if isinstance(seg, dict) and isinstance(seg.get("counts"), list) and sum(seg["counts"]) != height * width:
        raise ValueError(f"{where} has RLE counts summing to {sum(seg['counts'])}: expected height * width = "
                         f"{height * width} pixels")
    try:
        mask = _decode_mask(ann, height, width)
    except Exception as err:  # pycocotools raises bare Exceptions ("input type is not supported")
        raise ValueError(f"{where} has a segmentation pycocotools cannot read ({err}): expected polygons or an "
                         "RLE") from None
    if mask.shape != (height, width):
        raise ValueError(f"{where} decodes to a mask of shape {mask.shape}: expected ({height}, {width})")
    return mask


def _decode_mask(ann: dict, height: int, width: int) -> np.ndarray:
    """The (H, W) bool mask of one annotation: polygons, uncompressed or compressed RLE, or else its box."""
    from pycocotools import mask as mask_util

    seg = ann.get("segmentation")
    if not seg:  # a detection-only annotation: its box is the best mask there is
        x, y, w, h = ann["bbox"]
        mask = np.zeros((height, width), bool)
        mask[int(round(y)):int(round(y + h)), int(round(x)):int(round(x + w))] = True
        return mask
    if isinstance(seg, list):  # polygons, possibly several parts of one object
        rle = mask_util.merge(mask_util.frPyObjects(seg, height, width))
    elif isinstance(seg.get("counts"), list):  # uncompressed RLE
        rle = mask_util.frPyObjects(seg, height, width)
    else:
        rle = seg
    return mask_util.decode(rle).astype(bool)


def _read_document(path: Path) -> dict:
    """The COCO JSON document at path, with its three lists and the keys this loader reads; errors name the file."""
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}): expected a COCO annotation file "
                         "(a truncated copy?)") from None
    missing = [key for key in ("images", "annotations", "categories")
               if not isinstance(document, dict) or not isinstance(document.get(key), list)]
    if missing:
        raise ValueError(f"{path} has no list {', '.join(repr(k) for k in missing)}: expected a COCO annotation file")
    for key, needed in (("images", ("id", "file_name")), ("annotations", ("image_id", "category_id", "bbox")),
                        ("categories", ("id", "name"))):
        for k, item in enumerate(document[key]):
            absent = [n for n in needed if not isinstance(item, dict) or n not in item]
            if absent:
                raise ValueError(f"{path}: {key}[{k}] has no {', '.join(map(repr, absent))}: expected the COCO keys "
                                 f"{', '.join(needed)}")
    return document


def _check_annotation(ann: dict, path: Path, label_of: dict, by_image: dict) -> None:
    """An annotation's image, category and box, each checked against the file's own lists."""
    where = f"{path}: annotation {ann.get('id')}"
    if ann["image_id"] not in by_image:
        raise ValueError(f"{where} has image_id={ann['image_id']!r}: expected one of the images' ids (it would be "
                         "dropped)")
    if ann["category_id"] not in label_of:
        raise ValueError(f"{where} has category_id={ann['category_id']}: expected one of the categories "
                         f"{sorted(label_of)}")
    bbox = ann["bbox"]
    ok = isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)
    if not ok or not np.all(np.isfinite(bbox)) or min(bbox[2:]) < 0:
        raise ValueError(f"{where} has bbox={bbox!r}: expected [x, y, width, height], finite, width and height >= 0")


def load_coco(folder_or_json: str | Path, images_dir: str | Path | None = None) -> Scenes:
    """Read a COCO folder (or annotation JSON) into `Scenes`: images, semantic and instance masks, boxes, labels.

    folder_or_json: a folder holding annotations.json and images/, or the path of a COCO JSON.
    images_dir: where the files named in the JSON are; by default images/ next to the JSON, or the
      JSON's own folder if there is no images/.
    Categories sorted by id become labels 1..C (data.category_ids maps them back). Crowd annotations
    (iscrowd 1) are skipped; annotations without a segmentation get their box as mask. The semantic
    mask paints the instances in file order, so a later one wins where two overlap. Images are
    float32 RGB in [0, 1] (gray ones repeated to 3 channels); when they differ in size, images and
    masks are lists instead of stacked arrays.
    """

    path = Path(folder_or_json)
    if path.is_dir():
        path = path / ANNOTATIONS
    if not path.is_file():
        raise FileNotFoundError(f"folder_or_json={str(folder_or_json)!r}: expected a COCO JSON file or a folder "
                                f"holding {ANNOTATIONS}, found no {path}")
    if images_dir is None:
        images_dir = path.parent / IMAGES if (path.parent / IMAGES).is_dir() else path.parent
    images_dir = Path(images_dir)
    document = _read_document(path)
    categories = sorted(document["categories"], key=lambda c: c["id"])
    label_of = {c["id"]: k for k, c in enumerate(categories, start=1)}
    entries = sorted(document["images"], key=lambda im: im["id"])
    image_ids = [e["id"] for e in entries]
    if len(set(image_ids)) != len(image_ids):
        raise ValueError(f"{path} has image ids {image_ids[:8]}... with repeats: expected one entry per image id")
    by_image: dict[int, list[dict]] = {i: [] for i in image_ids}
    for ann in document["annotations"]:
        if ann.get("iscrowd", 0):
            continue
        _check_annotation(ann, path, label_of, by_image)
        by_image[ann["image_id"]].append(ann)

    images, masks, boxes, labels, instances = [], [], [], [], []
    for entry in entries:
        file = images_dir / entry["file_name"]
        if not file.is_file():
            raise FileNotFoundError(f"image {entry['id']} is {file}, which does not exist: expected images_dir="
                                    f"{str(images_dir)!r} to hold the files named in {path.name}")
        image = read_image(file, "RGB").astype(np.float32) / np.float32(255.0)
        height, width = image.shape[:2]
        anns = by_image[entry["id"]]
        masks_of = [_annotation_mask(a, height, width, path) for a in anns]
        inst = np.stack(masks_of) if anns else np.zeros((0, height, width), bool)
        lab = np.array([label_of[a["category_id"]] for a in anns], np.int32)
        semantic = np.zeros((height, width), np.int32)
        for m, c in zip(inst, lab):
            semantic[m] = c
        xywh = np.array([a["bbox"] for a in anns], np.float32).reshape(-1, 4)
        images.append(image)
        masks.append(semantic)
        boxes.append(np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1))
        labels.append(lab)
        instances.append(inst)
    if len({im.shape for im in images}) == 1:  # one size: stack, as make_scenes does
        images, masks = np.stack(images), np.stack(masks)
    names = ("background",) + tuple(c["name"] for c in categories)
    return Scenes(images, masks, boxes, labels, instances, names, [e["id"] for e in entries],
                  tuple(c["id"] for c in categories))


def to_coco_results(image_ids: Sequence[int], boxes: Sequence[np.ndarray], scores: Sequence[np.ndarray],
                    labels: Sequence[np.ndarray], category_ids: Sequence[int] | None = None) -> list[dict]:
    """Detections as the COCO results list (image_id, category_id, bbox [x, y, w, h], score) that COCO.loadRes reads.

    boxes[i] (N_i, 4) as (x1, y1, x2, y2), scores[i] (N_i,) and labels[i] (N_i,) in 1..C are image
    image_ids[i]'s detections; label c becomes category_ids[c - 1] (default: c itself, as in
    `export_coco` of generated scenes).
    """
    if np.ndim(image_ids) != 1:
        raise ValueError(f"image_ids={image_ids!r}: expected a sequence of image ids, one per image")
    image_ids = whole_numbers(np.asarray(image_ids), "image_ids", expected="integer COCO image ids")
    if not len(image_ids) == len(boxes) == len(scores) == len(labels):
        raise ValueError(f"image_ids, boxes, scores and labels have lengths {len(image_ids)}, {len(boxes)}, "
                         f"{len(scores)}, {len(labels)}: expected one entry per image in each")
    results = []
    for i, (image_id, b, s, lab) in enumerate(zip(image_ids, boxes, scores, labels)):
        b = xyxy_boxes(b, f"boxes[{i}]")
        s = finite_in(np.asarray(s, np.float64).reshape(-1), f"scores[{i}]", expected="finite scores")
        lab = whole_numbers(np.asarray(lab).reshape(-1), f"labels[{i}]", expected="integer labels 1..C")
        if not len(b) == len(s) == len(lab):
            raise ValueError(f"image {image_id} has {len(b)} boxes, {len(s)} scores and {len(lab)} labels: "
                             "expected as many of each")
        n_labels = None if category_ids is None else len(category_ids)
        if len(lab) and (lab.min() < 1 or (n_labels is not None and lab.max() > n_labels)):
            raise ValueError(f"image {image_id} has labels in [{lab.min()}, {lab.max()}]: expected labels in "
                             f"1..{n_labels if n_labels is not None else 'C'} (0 is the background)")
        for (x1, y1, x2, y2), score, label in zip(b.tolist(), s.tolist(), lab.tolist()):
            category = int(label) if category_ids is None else int(category_ids[int(label) - 1])
            results.append({"image_id": int(image_id), "category_id": category,
                            "bbox": [x1, y1, x2 - x1, y2 - y1], "score": score})
    return results
