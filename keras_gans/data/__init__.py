"""Input pipelines for GAN training: TFDS datasets, local files and 2-D toy mixtures.

Every image pipeline yields float32 NHWC images in [-1, 1] (the convention inside the
models), optionally with int32 class ids. Images come from:

- a TFDS name (`mnist`, `fashion_mnist`, `cifar10`, `celeb_a`), downloaded by TFDS when the
  machine has a network, or read from `data_dir` where it is already prepared;
- local files: a folder of MNIST-style IDX files (`train-*` / `t10k-*`, gzipped or not), an
  `.npz` file with `x` (and `y`), or a folder of PNG/JPEG images (one sub-folder per class
  gives labels).

The 2-D mixtures `ring8` and `grid25` follow the PacGAN protocol (Lin et al. 2018) for
mode-collapse studies and keep their published coordinates (they are not rescaled).

Image-to-image translation reads pairs `(a, b)` instead: `load_paired` (pix2pix) and
`load_unpaired` (CycleGAN) from `.npz` files, image folders, TFDS or the MNIST-derived tasks
of `mnist_task` (`mnist_edges`, `mnist_inpaint`, `mnist_invert`, `mnist_dilate`).

Modules: `loading` (`load`, `load_arrays`, names and paths), `tfds_source` (TFDS datasets),
`files` (IDX, .npz, image folders), `mixtures` (the 2-D mixtures, the one home of their centres),
`paired` (paired and unpaired translation data).

Example:
    import keras_gans as kg

    ds = kg.data.load("../shared/data/mnist", split="train", batch_size=128)
    images, labels = kg.data.load_arrays("../shared/data/mnist", split="test")
    points = kg.data.load("ring8", batch_size=512)
"""

from keras_gans.data.files import read_idx
from keras_gans.data.loading import dataset_names, load, load_arrays
from keras_gans.data.mixtures import Mixture, mixture
from keras_gans.data.paired import load_paired, load_unpaired, mnist_task

__all__ = [
    "Mixture", "dataset_names", "load", "load_arrays", "load_paired", "load_unpaired", "mixture", "mnist_task",
    "read_idx",
]
