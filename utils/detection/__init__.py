"""Detection in torchvision's split: boxes, anchors, matching, sampling, NMS, evaluation (pycocotools),
heads and decoding, inference timing, RoI pooling and RoIAlign (roi_ops), the region proposal network
(rpn), the second stage (roi_heads) and Mask R-CNN's mask branch (mask_head); each a small module
named for what it holds."""
