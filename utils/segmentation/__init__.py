"""Segmentation: U-Net and V-Net, Soft Dice and its relatives as Keras losses, thresholded mask metrics, the
95th-percentile Hausdorff distance and pipeline scores of volumes (volume_metrics), Deep BV's sliding windows
(windows) and its localizer and segmenter (deepbv), Deep MOUSE's coarse-to-fine networks (deepmouse), and the
training runs of the volumetric checkpoints (training)."""
