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

Edge cases, tested: a box partly or wholly outside the map reads zeros there (RoIAlign: samples
more than one cell outside are 0, as torchvision's; RoI pooling: a bin with no cell inside is 0);
R = 0 boxes give (B, 0, P_h, P_w, C); boxes with x2 < x1 or y2 < y1, NaN or inf are refused where their
values are known: NumPy boxes, and eager tensors, such as the NumPy boxes a Keras layer converts before its
call (inside compiled code values cannot be checked, and such a box samples its bins in mirrored order).
"""

from __future__ import annotations

import math

import keras
import keras.ops as K

from utils.course.checks import as_float_tensor, numpy_like, positive_float, positive_int
from utils.detection.boxes import check_box_values


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
    check_box_values(boxes, "boxes")  # where the values are known (not inside compiled code: see the module docstring)
    b = K.cast(b, f.dtype)  # positions and interpolation weights in the features' precision
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(size) != 2:
        raise ValueError(f"output_size={output_size!r}: expected an int or a (height, width) pair")
    size = (positive_int(size[0], "output_size height"), positive_int(size[1], "output_size width"))
    return f, b, size, positive_float(spatial_scale, "spatial_scale", note="feature cells per image pixel")


def roi_align(features, boxes, output_size: int | tuple[int, int] = 7, spatial_scale: float = 1.0,
              sampling_ratio: int = 2, aligned: bool = True):
    """RoIAlign: (B, R, P_h, P_w, C), each bin the mean of sampling_ratio^2 bilinear samples of the features.

    Bilinear interpolation is separable and the mean is linear, so each box's output is
    Wy @ F @ Wx^T with Wy (P_h, H) the mean over each bin's sample rows of their interpolation
    weights on the map's rows (Wx alike): two small matrix products per box instead of gathers.
    """
    f, b, (ph, pw), scale = _inputs(features, boxes, output_size, spatial_scale)
    ratio = positive_int(sampling_ratio, "sampling_ratio")
    height, width = f.shape[1], f.shape[2]
    if height is None or width is None:
        raise ValueError(f"features has shape {tuple(f.shape)}: expected a known height and width")
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (b[..., i] * scale - offset for i in range(4))          # (B, R) each
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:  # the original convention: a box is at least one cell
        roi_w, roi_h = K.maximum(roi_w, 1.0), K.maximum(roi_h, 1.0)

    def weights(start, extent, bins, size):
        # (B, R, bins, size): the sample points of every bin, regularly inside it, then their mean weights
        steps = (K.arange(bins * ratio, dtype=f.dtype) + 0.5) / ratio      # bin index + (i + 0.5) / ratio
        pos = start[..., None] + steps * (extent / bins)[..., None]          # (B, R, bins * ratio)
        w = _bilinear_weights(pos, size)                                      # (B, R, bins * ratio, size)
        return K.mean(K.reshape(w, (K.shape(b)[0], K.shape(b)[1], bins, ratio, size)), axis=3)

    wy, wx = weights(y1, roi_h, ph, int(height)), weights(x1, roi_w, pw, int(width))
    rows = K.einsum("brph,bhwc->brpwc", wy, f)                                # each bin's rows, every column
    return numpy_like(K.einsum("brpwc,brqw->brpqc", rows, wx), features, boxes)


def _bilinear_weights(pos, size: int):
    """(..., size) weights of the cells 0..size-1 in the bilinear sample at each position, torchvision's rules.

    A point more than one cell outside the map gives 0; between -1 and 0 it is clamped to the border;
    beyond the last cell it takes the last cell's value.
    """
    inside = (pos >= -1.0) & (pos <= float(size))
    pos = K.maximum(pos, 0.0)
    low = K.cast(K.floor(pos), "int32")
    at_end = low >= size - 1
    low = K.where(at_end, size - 1, low)
    high = K.where(at_end, size - 1, low + 1)
    frac = K.where(at_end, 0.0, pos - K.cast(low, pos.dtype))
    w = K.one_hot(low, size, dtype=pos.dtype) * (1.0 - frac)[..., None] + K.one_hot(high, size, dtype=pos.dtype) * \
        frac[..., None]
    return w * K.cast(inside, pos.dtype)[..., None]


def roi_pool(features, boxes, output_size: int | tuple[int, int] = 7, spatial_scale: float = 1.0):
    """RoI max pooling: (B, R, P_h, P_w, C), the box rounded to whole cells, each bin's maximum (0 if empty).

    Separable: the maximum over each bin's columns, looked up in a table of the maxima of every run
    of columns of the map, then the maximum over each bin's rows.
    """
    f, b, (ph, pw), scale = _inputs(features, boxes, output_size, spatial_scale)
    height, width = f.shape[1], f.shape[2]
    if height is None or width is None:
        raise ValueError(f"features has shape {tuple(f.shape)}: expected a known height and width")
    height, width = int(height), int(width)
    # round half away from zero, as C's round (K.round rounds half to even)
    x1, y1, x2, y2 = (K.sign(v) * K.floor(K.abs(v) + 0.5) for v in (b[..., i] * scale for i in range(4)))

    def bin_edges(start, end, bins, size):
        # (B, R, bins) first and past-the-last cell of each bin: floor(p e / P) and ceil((p + 1) e / P), clipped.
        # The extent e is a whole number of cells, so p e is exact and one division rounds once: the last bin
        # ends at e exactly. Edges computed as p (e / P) + e / P could land an ulp above e (e = 9, P = 7) and
        # read one cell past the box.
        extent = K.maximum(end - start, 1.0)[..., None]
        p = K.arange(bins, dtype=f.dtype)
        lo = K.clip(K.floor(p * extent / bins) + start[..., None], 0.0, float(size))
        hi = K.clip(K.ceil((p + 1.0) * extent / bins) + start[..., None], 0.0, float(size))
        return K.cast(lo, "int32"), K.cast(hi, "int32")

    lowest = K.convert_to_tensor(-math.inf, f.dtype)
    # runs[b, h, (n - 1) * W + s, c] = max of columns s .. s + n - 1 of row h (-inf past the map's edge)
    runs, run = [f], f
    for n in range(2, width + 1):
        run = K.maximum(run[:, :, :-1], f[:, :, n - 1:])
        runs.append(K.pad(run, ((0, 0), (0, 0), (0, n - 1), (0, 0)), constant_values=-math.inf))
    runs = K.concatenate(runs, axis=2)                                                   # (B, H, W * W, C)
    lo, hi = bin_edges(x1, x2, pw, width)
    index = K.maximum(hi - lo - 1, 0) * width + K.minimum(lo, width - 1)                  # (B, R, pw)
    n_boxes = K.shape(b)[1]
    flat = K.reshape(K.broadcast_to(index[:, None], (K.shape(b)[0], height, n_boxes, pw)), (K.shape(b)[0], height, -1))
    by_col = K.take_along_axis(runs, flat[..., None], axis=2)                            # (B, H, R * pw, C)
    by_col = K.reshape(by_col, (K.shape(b)[0], height, n_boxes, pw, K.shape(f)[-1]))
    by_col = K.where((hi > lo)[:, None, :, :, None], by_col, lowest)                     # empty column range
    rows_lo, rows_hi = bin_edges(y1, y2, ph, height)
    cells = K.arange(height)
    rows = (cells >= rows_lo[..., None]) & (cells < rows_hi[..., None])                  # (B, R, ph, H)
    # (B, R, ph, H, pw, C): each bin's rows of its column maxima, the others -inf
    picked = K.where(rows[..., None, None], K.transpose(by_col, (0, 2, 1, 3, 4))[:, :, None], lowest)
    out = K.max(picked, axis=3)
    return numpy_like(K.where(K.isinf(out), 0.0, out), features, boxes)                 # an empty bin: 0


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
