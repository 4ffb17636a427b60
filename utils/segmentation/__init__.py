"""Segmentation: U-Net and V-Net, Soft Dice and its relatives as Keras losses, thresholded mask metrics, the
95th-percentile Hausdorff distance of volumes (volume_metrics), and Deep BV's sliding windows (windows)."""
