import argparse

from utils.course.cli import add_checkpoint_arguments, recorded_command


def test_the_shared_options_and_the_recorded_command():
    parser = argparse.ArgumentParser()
    add_checkpoint_arguments(parser)
    args = parser.parse_args(["--minutes", "2.5", "--resume", "--name", "x"])
    assert (args.minutes, args.seed, args.name, args.resume) == (2.5, 0, "x", True)
    assert parser.parse_args([]).minutes is None and not parser.parse_args([]).resume
    assert recorded_command(["mask_rcnn", "--name", "a b"]) == "python -m utils.train mask_rcnn --name 'a b'"
