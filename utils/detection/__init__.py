"""Detection in torchvision's split: boxes, anchors, matching, sampling, NMS, evaluation (pycocotools),
heads and decoding, inference timing; each a small module named for what it holds."""
