"""Shared code of the course "CNNs beyond classification", one subpackage per subject.

- `utils.course`: session, modes, paths, results, the runner (`python -m utils.course`), source,
  tables, argument checks, checkpoints;
- `utils.data`: photos, noise, patches, scenes, COCO and Oxford-IIIT Pet formats;
- `utils.nn`: building blocks (2-D and 3-D), small backbones, the one training helper;
- `utils.denoising`: the lecture's autoencoder, DnCNN, classical denoisers, image quality;
- `utils.segmentation`: U-Net, Soft Dice and relatives, mask metrics;
- `utils.detection`: boxes, anchors, matching, sampling, NMS, evaluation, heads, inference;
- `utils.viz`: image grids, training curves, boxes and label maps on images, one palette.

Importing a subpackage is cheap: TensorFlow and Keras load only in the modules that need them,
so that `python -m utils.course list` answers at once.
"""

__version__ = "0.2.0"
