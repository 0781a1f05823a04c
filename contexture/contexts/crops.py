"""Random-crop context for images (Sec. 5.2, Fig. 4: MNIST, crop ratio alpha in {0.5, 0.2, 0.05}).

The paper does not define its crops; the semantics chosen here (document them in the chapter):

* ``crop_ratio`` alpha is the fraction of the image *area removed* (``semantics="removed"``,
  default): the crop keeps area 1 - alpha, so smaller alpha = views closer to x = stronger
  association, matching the paper's labels (0.05 strong, 0.5 weak). ``semantics="kept"`` reads
  alpha as the kept area fraction instead.
* The crop is a square-aspect window of height ``round(H sqrt(keep))`` and width
  ``round(W sqrt(keep))`` (at least 1 pixel), at an integer offset drawn uniformly among all
  positions that fit inside the image, independently per view.
* The crop is resized back to H x W by bilinear interpolation (``torch.nn.functional.interpolate``,
  ``align_corners=False``, no antialiasing).

``random_crops`` draws ``n_views`` views A ~ P+(. | x) per image; they are the samples of the
context consumed by the training objectives (Sec. 3.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from contexture.base.checks import as_rng, check_choice, check_float, check_int

__all__ = ["CropSample", "crop_size", "random_crops"]


@dataclass(frozen=True)
class CropSample:
    """Views ``(n, n_views, H, W)`` (float32) and boxes ``(n, n_views, 4)`` = (top, left, h, w)."""

    views: np.ndarray
    boxes: np.ndarray


def crop_size(height: int, width: int, crop_ratio: float,
              semantics: Literal["removed", "kept"] = "removed") -> tuple[int, int]:
    """Crop height and width for an H x W image (see the module docstring for the semantics)."""
    height = check_int("height", height, lo=1)
    width = check_int("width", width, lo=1)
    crop_ratio = check_float("crop_ratio", crop_ratio, lo=0.0, hi=1.0, hi_open=True)
    semantics = check_choice("semantics", semantics, ["removed", "kept"])
    keep = 1.0 - crop_ratio if semantics == "removed" else crop_ratio
    if keep <= 0:
        raise ValueError(f"crop_ratio must leave a positive kept area, got crop_ratio = "
                         f"{crop_ratio} with semantics={semantics!r}")
    side = math.sqrt(keep)
    return (min(height, max(1, round(height * side))), min(width, max(1, round(width * side))))


def random_crops(
    images: Any,
    crop_ratio: float,
    *,
    n_views: int = 2,
    seed: int | np.random.Generator = 0,
    semantics: Literal["removed", "kept"] = "removed",
    batch_size: int = 8192,
) -> CropSample:
    """Draw random crops of each image, resized back to full size (Sec. 2.1 kind 2; Fig. 4).

    ``images``: array ``(n, H, W)`` (e.g. MNIST, n x 28 x 28), any real dtype. Returns
    :class:`CropSample`. Seeded: the offsets are drawn from ``as_rng(seed)``
    (:func:`contexture.base.checks.as_rng`) and the resizing is deterministic.
    """
    import torch
    import torch.nn.functional as F

    imgs = np.asarray(images)
    if imgs.ndim != 3 or 0 in imgs.shape:
        raise ValueError(f"images must be a non-empty (n, H, W) array, got shape {imgs.shape}")
    if not np.issubdtype(imgs.dtype, np.number) or np.issubdtype(imgs.dtype, np.complexfloating):
        raise TypeError(f"images must be real numbers, got dtype {imgs.dtype}")
    n, height, width = imgs.shape
    h, w = crop_size(height, width, crop_ratio, semantics)
    n_views = check_int("n_views", n_views, lo=1)
    batch_size = check_int("batch_size", batch_size, lo=1)
    rng = as_rng(seed)
    top = rng.integers(0, height - h + 1, size=(n, n_views))
    left = rng.integers(0, width - w + 1, size=(n, n_views))
    views = np.empty((n, n_views, height, width), dtype=np.float32)
    rows = np.arange(h)
    cols = np.arange(w)
    src = imgs.astype(np.float32, copy=False)
    for start in range(0, n, batch_size):
        sl = slice(start, min(n, start + batch_size))
        k = sl.stop - sl.start
        idx = np.repeat(np.arange(sl.start, sl.stop), n_views)
        r = (top[sl].reshape(-1)[:, None] + rows[None, :])[:, :, None]
        c = (left[sl].reshape(-1)[:, None] + cols[None, :])[:, None, :]
        crops = torch.from_numpy(np.ascontiguousarray(src[idx[:, None, None], r, c]))
        out = F.interpolate(crops[:, None], size=(height, width), mode="bilinear",
                            align_corners=False)
        views[sl] = out[:, 0].numpy().reshape(k, n_views, height, width)
    boxes = np.stack([top, left, np.full_like(top, h), np.full_like(top, w)], axis=-1)
    return CropSample(views, boxes)
