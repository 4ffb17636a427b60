"""Entry point `python -m utils.train MODEL ...`: the shipped checkpoints' training runs.

dncnn and autoencoder train in `utils.denoising.training`, faster_rcnn and mask_rcnn in
`utils.detection.training`, tracknet and frame_rcnn in `utils.tracking.training`, the volumetric
models of notebooks 07 and 08 in `utils.segmentation.training`; the offline studies of several seeds
train in `utils.segmentation.scene_losses` (scene_losses: notebooks 05 and 06),
`utils.denoising.autoencoder_runs` (autoencoder_runs: notebook 01), `utils.denoising.dncnn_runs`
(dncnn_runs: notebook 02), `utils.denoising.application_runs` (application_runs: notebook 04),
`utils.detection.localizer_runs` (localizer_runs: notebook 09), `utils.detection.detector_runs`
(detector_runs: notebook 11) and `utils.nn.depth_runs` (depth_runs: notebook 14);
the scores of the classical denoisers and the shipped checkpoints on the test items (denoiser_scores)
in `utils.denoising.scores`. This file keeps the commands recorded in the checkpoints'
provenance working.
"""

import sys

DETECTORS = ("faster_rcnn", "mask_rcnn")
TRACKERS = ("tracknet", "frame_rcnn")
# utils.segmentation.training.VOLUMETRIC, without importing it
VOLUMETRIC = ("vnet", "vnet_separable", "vnet_cross", "unet2d_slices", "deepbv_localizer", "deepbv_segmenter",
              "mouse_coarse", "mouse_refine", "mouse_end_to_end")


def main(argv: list[str] | None = None) -> None:
    """Hand the command line to the training module of the model it names."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DETECTORS:
        from utils.detection.training import main as train_detector

        train_detector(argv)
    elif argv and argv[0] in TRACKERS:
        from utils.tracking.training import main as train_tracker

        train_tracker(argv)
    elif argv and argv[0] == "scene_losses":
        from utils.segmentation.scene_losses import main as train_scene_losses

        train_scene_losses(argv)
    elif argv and argv[0] == "autoencoder_runs":
        from utils.denoising.autoencoder_runs import main as train_autoencoder_runs

        train_autoencoder_runs(argv)
    elif argv and argv[0] == "localizer_runs":
        from utils.detection.localizer_runs import main as train_localizer_runs

        train_localizer_runs(argv)
    elif argv and argv[0] == "detector_runs":
        from utils.detection.detector_runs import main as train_detector_runs

        train_detector_runs(argv)
    elif argv and argv[0] == "depth_runs":
        from utils.nn.depth_runs import main as train_depth_runs

        train_depth_runs(argv)
    elif argv and argv[0] == "application_runs":
        from utils.denoising.application_runs import main as train_application_runs

        train_application_runs(argv)
    elif argv and argv[0] == "denoiser_scores":
        from utils.denoising.scores import main as score_denoisers

        score_denoisers(argv)
    elif argv and argv[0] == "dncnn_runs":
        from utils.denoising.dncnn_runs import main as train_dncnn_runs

        train_dncnn_runs(argv)
    elif argv and argv[0] in VOLUMETRIC:
        from utils.segmentation.training import main as train_volumetric

        train_volumetric(argv)
    else:
        from utils.denoising.training import main as train_denoiser

        train_denoiser(argv)


if __name__ == "__main__":
    main()
