"""Shared code of the course "CNNs beyond classification", one subpackage per subject.

- `utils.course`: session, modes, paths, results, the runner (`python -m utils.course`), source,
  tables, argument checks, checkpoints;
- `utils.data`: photos, noise, patches, scenes, traffic videos, ultrasound-like volumes; COCO, Oxford-IIIT Pet,
  MOTChallenge and NIfTI formats;
- `utils.nn`: building blocks (2-D and 3-D), small backbones, the one training helper;
- `utils.denoising`: the lecture's autoencoder, DnCNN, classical denoisers, image quality;
- `utils.segmentation`: U-Net, V-Net, Deep BV and Deep MOUSE, Soft Dice and relatives, mask and volume metrics;
- `utils.detection`: boxes, anchors, matching, sampling, NMS, evaluation, heads, inference, the R-CNNs;
- `utils.tracking`: anchor tubes, TrackNet, linking, tracking metrics;
- `utils.viz`: image grids, training curves, boxes and label maps on images, tracks, volumes, one palette.

Importing a subpackage is cheap: TensorFlow and Keras load only in the modules that need them,
so that `python -m utils.course list` answers at once.
"""

__version__ = "0.2.0"
