"""Chapter 4, images: one photo as a CHW tensor, and a batch of images normalized per channel."""

import imageio.v2 as imageio
import numpy as np
import torch

from dlwpt.ingest.common import PathLike, Sources, list_sources, write_outputs
from dlwpt.io import DataError, error_text


def read_image(path: PathLike) -> np.ndarray:
    """An image as the book reads it (`imageio.imread`): HxWxC uint8, or DataError if damaged."""
    try:
        image = np.asarray(imageio.imread(path))
    except Exception as e:  # imageio/PIL raise many types for truncated or corrupt files
        raise DataError(path, f"unreadable image ({error_text(e)})") from e
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] < 3:
        raise DataError(path, f"expected an 8-bit RGB image, got {image.dtype} "
                              f"{'x'.join(map(str, image.shape))}")
    return image


def ingest_image(src: PathLike, out_pt: PathLike, out_json: PathLike) -> None:
    """The book's `imageio.imread` + `permute(2, 0, 1)`: HxWx3 uint8 -> `image` 3xHxW uint8."""
    image = read_image(src)
    if image.shape[2] != 3:
        raise DataError(src, f"expected 3 channels, got {image.shape[2]}")
    tensors = {"image": torch.from_numpy(image).permute(2, 0, 1).contiguous()}
    write_outputs("image_dog", out_pt, out_json, tensors, [src])


def ingest_image_batch(sources: Sources, out_pt: PathLike, out_json: PathLike,
                       size: int = 256) -> None:
    """The book's image batch: `raw` Nx3xSxS uint8 (alpha dropped), `normalized` per channel to
    zero mean / unit std over the batch, and the `mean`/`std` used (of the /255 values)."""
    files = list_sources(sources, "*.png")
    batch = torch.zeros(len(files), 3, size, size, dtype=torch.uint8)
    for i, path in enumerate(files):
        image = read_image(path)
        if image.shape[:2] != (size, size):
            raise DataError(path, f"image is {image.shape[1]}x{image.shape[0]}, "
                                  f"expected {size}x{size}")
        batch[i] = torch.from_numpy(image).permute(2, 0, 1)[:3]

    normalized = batch.float() / 255.0
    mean = torch.stack([normalized[:, c].mean() for c in range(3)])
    std = torch.stack([normalized[:, c].std() for c in range(3)])
    normalized = (normalized - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    tensors = {"raw": batch, "normalized": normalized, "mean": mean, "std": std}
    write_outputs("image_cats", out_pt, out_json, tensors, files, files=[p.name for p in files])
