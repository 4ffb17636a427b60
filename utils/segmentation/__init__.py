"""Segmentation: U-Net, Soft Dice and its relatives as Keras losses, and thresholded mask metrics."""
