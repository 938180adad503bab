"""Training at a glance: the fixed-z grids of a run folder's epochs as one strip and a GIF.

`SampleGrid` (and `TranslationGrid`) write the grid of the same latent points (or images)
after every epoch, `samples/samples_epoch_0001.png`, ...; here they are put side by side,
each under its epoch number: `progress.png` shows a handful of epochs from the first to the
last, `progress.gif` every epoch in turn. `keras-gans train` writes both at the end of a
run, `keras-gans progress RUN_FOLDER` for any run folder.

Example:
    from keras_gans.training import progress

    progress.write_progress("runs/dcgan")   # runs/dcgan/progress.png, runs/dcgan/progress.gif
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

PAD = 6  # pixels around and between the frames
LABEL = 16  # pixels of the band above each frame that holds its epoch number
_GRID_NAME = re.compile(r"^(samples|translations)_epoch_(\d+)\.png$")


def grid_files(run_folder: str | os.PathLike) -> list[tuple[int, Path]]:
    """(epoch, path) of the per-epoch grids in `run_folder/samples` (or a folder of grids), by epoch."""
    folder = Path(run_folder)
    if (folder / "samples").is_dir():
        folder = folder / "samples"
    found = [(int(m.group(2)), p) for p in folder.glob("*.png") if (m := _GRID_NAME.match(p.name))]
    return sorted(found)


def pick(items: list, count: int) -> list:
    """`count` items spread evenly over `items`, the first and the last always among them."""
    if count >= len(items):
        return list(items)
    if count <= 1:
        return [items[-1]]
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def _read(path):
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _font():
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=12)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def frame(image: np.ndarray, text: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """`image` (uint8 RGB) under a band holding `text`, on white, padded to `size` (h, w) when given."""
    from PIL import Image, ImageDraw

    h, w = size or image.shape[:2]
    out = Image.new("RGB", (w, h + LABEL), "white")
    out.paste(Image.fromarray(image), (0, LABEL))
    ImageDraw.Draw(out).text((2, 1), text, fill=(40, 40, 40), font=_font())
    return np.asarray(out)


def strip(grids: list[tuple[int, np.ndarray]], vertical: bool | None = None) -> np.ndarray:
    """The grids, each under "epoch N", in one row (or one column) with `PAD` pixels around each.

    Args:
        grids: (epoch, uint8 RGB image) pairs, in order.
        vertical: stack top to bottom; None chooses it for grids wider than tall (the
            translation grids), left to right otherwise.

    Returns:
        uint8 [H, W, 3]: in a row of k frames of h x w, H = h + LABEL + 2 PAD and
        W = k w + (k + 1) PAD (in a column the other way round).
    """
    h = max(g.shape[0] for _, g in grids)
    w = max(g.shape[1] for _, g in grids)
    if vertical is None:
        vertical = w > 1.5 * h
    frames = [frame(g, f"epoch {e}", (h, w)) for e, g in grids]
    fh, fw = frames[0].shape[:2]
    k = len(frames)
    shape = (k * fh + (k + 1) * PAD, fw + 2 * PAD, 3) if vertical else (fh + 2 * PAD, k * fw + (k + 1) * PAD, 3)
    out = np.full(shape, 255, np.uint8)
    for i, f in enumerate(frames):
        y, x = (PAD + i * (fh + PAD), PAD) if vertical else (PAD, PAD + i * (fw + PAD))
        out[y : y + fh, x : x + fw] = f
    return out


def write_progress(
    run_folder: str | os.PathLike,
    png: str | os.PathLike | None = None,
    gif: str | os.PathLike | None = None,
    *,
    frames: int = 8,
    write_gif: bool = True,
    seconds_per_frame: float = 0.5,
) -> dict:
    """Writes the strip of a run's grids (`progress.png`) and their animation (`progress.gif`).

    Args:
        run_folder: a run folder (grids in `samples/`) or a folder of grids.
        png: the strip (default `run_folder/progress.png`).
        gif: the animation (default `run_folder/progress.gif`).
        frames: epochs in the strip, spread from the first to the last (the GIF has all,
            at most 200).
        write_gif: also write the GIF.
        seconds_per_frame: GIF speed; the last frame stays four times as long.

    Returns:
        {"png": path, "gif": path or None, "epochs": the epochs in the strip}.

    Raises:
        ValueError: the folder holds no grids.
    """
    from PIL import Image

    folder = Path(run_folder)
    found = grid_files(folder)
    if not found:
        raise ValueError(f"{folder} holds no sample grids (samples/samples_epoch_NNNN.png); is it a run folder?")
    out_dir = folder.parent if folder.name == "samples" else folder
    png = Path(png) if png else out_dir / "progress.png"
    chosen = pick(found, frames)
    png.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip([(e, _read(p)) for e, p in chosen])).save(png)

    gif_path = None
    if write_gif:
        gif_path = Path(gif) if gif else out_dir / "progress.gif"
        shown = pick(found, 200)
        grids = [(e, _read(p)) for e, p in shown]
        h = max(g.shape[0] for _, g in grids)
        w = max(g.shape[1] for _, g in grids)
        images = [Image.fromarray(frame(g, f"epoch {e}", (h, w))) for e, g in grids]
        ms = int(seconds_per_frame * 1000)
        gif_path.parent.mkdir(parents=True, exist_ok=True)
        images[0].save(gif_path, save_all=True, append_images=images[1:], loop=0,
                       duration=[ms] * (len(images) - 1) + [4 * ms])
    return {"png": png, "gif": gif_path, "epochs": [e for e, _ in chosen]}
