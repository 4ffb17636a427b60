"""Pooling a fixed-size feature for each region of interest: RoI pooling (Fast R-CNN) and RoIAlign (Mask R-CNN).

Both take a batch of feature maps (B, H, W, C), channels last, and boxes (B, R, 4) xyxy in image pixels
(R regions per image, e.g. the proposals of a region proposal network), and return (B, R, P_h, P_w, C):
one P_h x P_w feature per region, whatever its size. `spatial_scale` maps image pixels to feature
cells (1/16 for a stride-16 map). Written in `keras.ops`, so they run batched inside a model, in
compiled code, and pass gradients to the features.

- **RoI pooling** (Girshick 2015): the box is rounded to whole cells, split into P_h x P_w bins by
  floor/ceil, and each output is the maximum over its bin. The rounding moves the box by up to half
  a cell — harmless for classification, not for masks. The box's x2, y2 are exclusive, as
  everywhere in utils (a box [0, 0, 8, 8] covers cells 0..7); torchvision's `roi_pool` keeps
  Caffe's inclusive convention and takes one cell more.
- **RoIAlign** (He et al. 2017, torchvision's `roi_align`): no rounding; each bin is sampled at
  `sampling_ratio` x `sampling_ratio` regularly spaced points by bilinear interpolation, and the
  samples are averaged. `aligned=True` (Detectron2's and torchvision's fix) shifts the box by half
  a cell so that a pixel's centre, not its corner, is where the sampling grid starts; `aligned=False`
  is the original Mask R-CNN convention (and a box is then at least one cell wide). torchvision's
  adaptive sampling (sampling_ratio <= 0: ceil(box / bins) points, different for every box) has no
  fixed shape, so a positive sampling_ratio is required here.
"""

from __future__ import annotations

import math

import keras
import keras.ops as K

from utils.course.checks import as_float_tensor, numpy_like, positive_float, positive_int


def _inputs(features, boxes, output_size, spatial_scale):
    """Checked features (B, H, W, C), boxes (B, R, 4) as float tensors, (P_h, P_w) and the scale."""
    f = as_float_tensor(features, "features")
    b = as_float_tensor(boxes, "boxes", last_axis=4)
    if len(f.shape) != 4:
        raise ValueError(f"features has shape {tuple(f.shape)}: expected (B, H, W, C), channels last")
    if len(b.shape) != 3:
        raise ValueError(f"boxes has shape {tuple(b.shape)}: expected (B, R, 4), R boxes per image")
    if f.shape[0] is not None and b.shape[0] is not None and f.shape[0] != b.shape[0]:
        raise ValueError(f"features hold {f.shape[0]} images and boxes {b.shape[0]}: expected one box set per image")
    b = K.cast(b, f.dtype)  # positions and interpolation weights in the features' precision
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(size) != 2:
        raise ValueError(f"output_size={output_size!r}: expected an int or a (height, width) pair")
    size = (positive_int(size[0], "output_size height"), positive_int(size[1], "output_size width"))
    return f, b, size, positive_float(spatial_scale, "spatial_scale", note="feature cells per image pixel")


def _per_box(features, b):
    """The feature map of each box's image, (B*R, H, W, C), and the boxes flattened to (B*R, 4)."""
    n_images, n_boxes = K.shape(b)[0], K.shape(b)[1]
    image_of_box = K.repeat(K.arange(n_images), n_boxes)
    return K.take(features, image_of_box, axis=0), K.reshape(b, (-1, 4))


def roi_align(features, boxes, output_size: int | tuple[int, int] = 7, spatial_scale: float = 1.0,
              sampling_ratio: int = 2, aligned: bool = True):
    """RoIAlign: (B, R, P_h, P_w, C), each bin the mean of sampling_ratio^2 bilinear samples of the features."""
    f, b, (ph, pw), scale = _inputs(features, boxes, output_size, spatial_scale)
    ratio = positive_int(sampling_ratio, "sampling_ratio")
    height, width = K.shape(f)[1], K.shape(f)[2]
    maps, flat = _per_box(f, b)
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (flat[:, i] * scale - offset for i in range(4))
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:  # the original convention: a box is at least one cell
        roi_w, roi_h = K.maximum(roi_w, 1.0), K.maximum(roi_h, 1.0)

    def sample_positions(start, extent, bins):
        # (N, bins * ratio): the sample points of every bin, bin by bin, regularly inside it
        steps = (K.arange(bins * ratio, dtype=f.dtype) + 0.5) / ratio      # bin index + (i + 0.5) / ratio
        return start[:, None] + steps[None, :] * (extent / bins)[:, None]

    ys, xs = sample_positions(y1, roi_h, ph), sample_positions(x1, roi_w, pw)
    values = _bilinear(maps, ys, xs, height, width)                          # (N, ph*ratio, pw*ratio, C)
    n, channels = K.shape(values)[0], K.shape(values)[-1]
    values = K.reshape(values, (n, ph, ratio, pw, ratio, channels))
    out = K.mean(values, axis=(2, 4))
    return numpy_like(K.reshape(out, (K.shape(b)[0], K.shape(b)[1], ph, pw, channels)), features, boxes)


def _bilinear(maps, ys, xs, height, width):
    """Bilinear samples (N, Y, X, C) of maps (N, H, W, C) at the grid ys (N, Y) x xs (N, X), torchvision's rules.

    A point more than one cell outside the map gives 0; between -1 and 0 it is clamped to the border;
    beyond the last cell it takes the last cell's value.
    """
    def axis(pos, size):
        size_f = K.cast(size, pos.dtype)
        inside = (pos >= -1.0) & (pos <= size_f)
        pos = K.maximum(pos, 0.0)
        low = K.cast(K.floor(pos), "int32")
        at_end = low >= size - 1
        low = K.where(at_end, size - 1, low)
        high = K.where(at_end, size - 1, low + 1)
        frac = K.where(at_end, 0.0, pos - K.cast(low, pos.dtype))
        return low, high, frac, inside

    y0, y1, fy, in_y = axis(ys, height)
    x0, x1, fx, in_x = axis(xs, width)

    def gather(rows, cols):
        # maps[n, rows[n, i], cols[n, j], :] for every n, i, j
        picked = K.take_along_axis(maps, rows[:, :, None, None], axis=1)                 # (N, Y, W, C)
        return K.take_along_axis(picked, cols[:, None, :, None], axis=2)               # (N, Y, X, C)

    wy, wx = fy[:, :, None, None], fx[:, None, :, None]
    top = gather(y0, x0) * (1 - wx) + gather(y0, x1) * wx
    bottom = gather(y1, x0) * (1 - wx) + gather(y1, x1) * wx
    inside = K.cast(in_y[:, :, None, None] & in_x[:, None, :, None], maps.dtype)
    return (top * (1 - wy) + bottom * wy) * inside


def roi_pool(features, boxes, output_size: int | tuple[int, int] = 7, spatial_scale: float = 1.0):
    """RoI max pooling: (B, R, P_h, P_w, C), the box rounded to whole cells, each bin's maximum (0 if empty)."""
    f, b, (ph, pw), scale = _inputs(features, boxes, output_size, spatial_scale)
    height, width = K.shape(f)[1], K.shape(f)[2]
    maps, flat = _per_box(f, b)
    # round half away from zero, as C's round (K.round rounds half to even)
    x1, y1, x2, y2 = (K.sign(v) * K.floor(K.abs(v) + 0.5) for v in (flat[:, i] * scale for i in range(4)))

    def bin_masks(start, end, bins, size):
        # (N, bins, size): which cells each bin covers (torchvision: floor/ceil of the bin edges, clipped)
        extent = K.maximum(end - start, 1.0)
        edges = K.arange(bins, dtype=f.dtype)[None, :] * (extent / bins)[:, None]
        lo = K.clip(K.floor(edges) + start[:, None], 0.0, K.cast(size, f.dtype))
        hi = K.clip(K.ceil(edges + (extent / bins)[:, None]) + start[:, None], 0.0, K.cast(size, f.dtype))
        cells = K.arange(size, dtype=f.dtype)[None, None, :]
        return (cells >= lo[:, :, None]) & (cells < hi[:, :, None])

    rows, cols = bin_masks(y1, y2, ph, height), bin_masks(x1, x2, pw, width)
    lowest = K.convert_to_tensor(-math.inf, maps.dtype)
    # separable: the maximum over each bin's columns, then over its rows
    by_col = K.max(K.where(cols[:, None, :, :, None], maps[:, :, None, :, :], lowest), axis=3)   # (N, H, pw, C)
    out = K.max(K.where(rows[:, :, :, None, None], by_col[:, None, :, :, :], lowest), axis=2)   # (N, ph, pw, C)
    out = K.where(K.isinf(out), 0.0, out)                                                       # an empty bin
    channels = K.shape(out)[-1]
    return numpy_like(K.reshape(out, (K.shape(b)[0], K.shape(b)[1], ph, pw, channels)), features, boxes)


class RoIAlign(keras.layers.Layer):
    """RoIAlign as a Keras layer: call([features (B, H, W, C), boxes (B, R, 4)]) -> (B, R, P_h, P_w, C)."""

    def __init__(self, output_size=7, spatial_scale=1.0, sampling_ratio=2, aligned=True, **kwargs):
        super().__init__(**kwargs)
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def call(self, inputs):
        features, boxes = inputs
        return roi_align(features, boxes, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size, "spatial_scale": self.spatial_scale,
                "sampling_ratio": self.sampling_ratio, "aligned": self.aligned}


class RoIPool(keras.layers.Layer):
    """RoI max pooling as a Keras layer: call([features, boxes]) -> (B, R, P_h, P_w, C)."""

    def __init__(self, output_size=7, spatial_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.output_size, self.spatial_scale = output_size, spatial_scale

    def call(self, inputs):
        features, boxes = inputs
        return roi_pool(features, boxes, self.output_size, self.spatial_scale)

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size, "spatial_scale": self.spatial_scale}
