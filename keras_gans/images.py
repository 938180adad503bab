"""Image grids and PNG files: the edge where samples become pictures (uint8)."""

import math
from pathlib import Path

import numpy as np


def to_uint8(images):
    """float images in [-1, 1] (or uint8 already) -> uint8 in [0, 255], rounding."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.clip(np.round((images.astype(np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def grid(images, cols=None, pad=2):
    """Tile `[n, H, W, C]` images into one `[rows*(H+pad)+pad, cols*(W+pad)+pad, C]` uint8 image.

    Example:
        save_png("grid.png", grid(gan.sample(64, seed=0)))
    """
    images = to_uint8(images)
    if images.ndim != 4:
        raise ValueError(f"grid needs images of shape [n, H, W, C]; got shape {images.shape}.")
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + k * (w + pad) : pad + k * (w + pad) + w] = image
    return out


def save_png(path, image):
    """Writes one uint8 `[H, W, C]` (C = 1 or 3) image as PNG, creating the folder."""
    from PIL import Image

    image = to_uint8(image)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)
    return path


def scatter_png(path, points, reference=None, size=4.0):
    """A scatter plot of 2-D samples (and reference points), for the toy mixtures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(size, size))
    if reference is not None:
        ax.scatter(reference[:, 0], reference[:, 1], s=2, c="lightgray", label="data")
    ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:blue", label="samples")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return Path(path)
