"""Callbacks for watching a GAN train: sample grids from a fixed z, translation grids, and FID."""

import csv
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from keras_gans import checks
from keras_gans import images as images_lib


class SampleGrid(keras.callbacks.Callback):
    """Writes a grid of samples from the same latent batch after every epoch.

    The z (and labels) are fixed by `seed` once, so the grids of successive epochs show
    the same latent points as training moves them. 2-D samples (the toy mixtures) are
    drawn as a scatter plot instead.

    Args:
        out_dir: folder for `samples_epoch_{epoch:04d}.png`.
        n: samples per grid.
        seed: seed of the fixed latent batch.
        every: write every `every` epochs (and after the last).

    Example:
        gan.fit(data, epochs=20, callbacks=[SampleGrid("runs/dcgan")])
    """

    def __init__(self, out_dir, n=64, seed=0, every=1, reference=None):
        super().__init__()
        self.out_dir = out_dir
        self.n = n
        self.seed = seed
        self.every = every
        self.reference = reference
        self.paths = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        gan = self.model
        labels = None if gan.num_classes is None else np.arange(self.n) % gan.num_classes
        samples = gan.sample(self.n, seed=self.seed, labels=labels)
        path = f"{self.out_dir}/samples_epoch_{epoch + 1:04d}.png"
        if samples.ndim == 2 and samples.shape[1] == 2:
            images_lib.scatter_png(path, samples, self.reference)
        else:
            # Conditional grids: one column per class, so each column is one digit.
            images_lib.save_png(path, images_lib.grid(samples, cols=gan.num_classes))
        self.paths.append(path)


class TranslationGrid(keras.callbacks.Callback):
    """Writes a grid of the same images translated after every epoch (pix2pix, CycleGAN).

    One column per example; rows: the A images, their translation G(a), then for a
    model with a B -> A generator (CycleGAN) the reconstruction F(G(a)), and when
    `targets` are given (pix2pix's paired B images) the targets. Grayscale rows are shown
    as RGB beside colour ones.

    Args:
        out_dir: folder for `translations_epoch_{epoch:04d}.png`.
        images: a fixed batch of A images `[n, H, W, C_a]` (uint8 or floats in [-1, 1]).
        targets: optional B images paired with them.
        every: write every `every` epochs.

    Example:
        a, b = next(iter(kg.data.load_paired("mnist_edges", mnist=..., shuffle=False, batch_size=16)))
        model.fit(data, callbacks=[TranslationGrid("runs/pix2pix/samples", a, b)])
    """

    def __init__(self, out_dir, images, targets=None, every=1):
        super().__init__()
        self.out_dir = out_dir
        self.images = np.asarray(images)
        self.targets = None if targets is None else np.asarray(targets)
        self.every = every
        self.paths = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        model = self.model
        rows = [self.images, model.translate(self.images, direction="a_to_b")]
        if "b_to_a" in model.translators:
            rows.append(model.translate(rows[1], direction="b_to_a"))
        if self.targets is not None:
            rows.append(self.targets)
        rows = [images_lib.to_uint8(r) for r in rows]
        channels = max(r.shape[-1] for r in rows)
        rows = [np.repeat(r, channels, axis=-1) if r.shape[-1] == 1 else r for r in rows]
        path = f"{self.out_dir}/translations_epoch_{epoch + 1:04d}.png"
        images_lib.save_png(path, images_lib.grid(np.concatenate(rows), cols=len(self.images)))
        self.paths.append(path)


class HistoryCSV(keras.callbacks.Callback):
    """The per-epoch metrics as a CSV, one row per epoch, that survives resumed runs.

    Unlike `keras.callbacks.CSVLogger(append=True)`, an epoch written again (a run
    killed after writing it but before its checkpoint, then resumed) replaces its row
    instead of adding a second one, so the file always has one row per epoch trained.

    Args:
        path: the CSV file; its folder is created.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)

    def read(self):
        if not self.path.exists():
            return []
        with self.path.open(newline="") as f:
            return list(csv.DictReader(f))

    def on_epoch_end(self, epoch, logs=None):
        rows = [r for r in self.read() if int(r["epoch"]) < epoch + 1]
        row = {"epoch": epoch + 1}
        row.update({k: float(np.ravel(v)[0]) for k, v in (logs or {}).items()})
        rows.append(row)
        fields = ["epoch"] + sorted({k for r in rows for k in r} - {"epoch"})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.path)


def plot_history(csv_path, png_path):
    """Loss curves (d_loss, g_loss, and gp when present) of a HistoryCSV file as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = HistoryCSV(csv_path).read()
    if not rows:
        raise ValueError(f"{csv_path} has no epochs to plot.")
    epochs = [int(r["epoch"]) for r in rows]
    fig, (ax_loss, ax_d) = plt.subplots(1, 2, figsize=(10, 3.5))
    for name in ("d_loss", "g_loss", "gp"):
        if name in rows[0]:
            ax_loss.plot(epochs, [float(r[name]) for r in rows], marker="o", label=name)
    for name in ("d_real", "d_fake"):
        if name in rows[0]:
            ax_d.plot(epochs, [float(r[name]) for r in rows], marker="o", label=name)
    ax_loss.set_title("losses")
    ax_d.set_title("discriminator output on real / generated data")
    for ax in (ax_loss, ax_d):
        ax.set_xlabel("epoch")
        ax.legend()
    Path(png_path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return Path(png_path)


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` whose every backup is written atomically.

    Keras writes `latest.weights.h5` and then `training_metadata.json` in place: a run
    killed while writing leaves a truncated HDF5 file (resuming then fails) or weights of
    one epoch with the epoch number of the one before. Here each backup goes to a
    temporary folder, renamed to `epoch-NNNNNN` only once both files are complete; a
    resumed run loads the newest complete one. The weights include both optimizers'
    iterations and slots, so the run continues as the same run.

    Args:
        backup_dir: folder of the backups; removed when training completes.
    """

    def __init__(self, backup_dir):
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=True)

    def _complete_backups(self):
        root = Path(self.backup_dir)
        return sorted(root.glob("epoch-*")) if root.exists() else []

    def _point_at(self, folder):
        self._weights_path = str(Path(folder) / "latest.weights.h5")
        self._training_metadata_path = str(Path(folder) / "training_metadata.json")

    def on_train_begin(self, logs=None):
        backups = self._complete_backups()
        if backups:
            self._point_at(backups[-1])
            self._load_model()

    def _save_model(self):
        root = Path(self.backup_dir)
        root.mkdir(parents=True, exist_ok=True)
        final = root / f"epoch-{self._current_epoch:06d}"
        tmp = root / f".tmp-{final.name}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        self._point_at(tmp)
        super()._save_model()
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in self._complete_backups()[:-1]:
            shutil.rmtree(old, ignore_errors=True)


class FIDMonitor(keras.callbacks.Callback):
    """Logs FID (in a classifier's feature space, e.g. MNIST FID) every `every` epochs of `fit`.

    The value is added to the epoch's logs under `name`, so it appears in `fit`'s History,
    in `HistoryCSV` / `CSVLogger` files and in TensorBoard, when this callback comes before
    them in the list. Epochs without a measurement log NaN, which keeps every epoch's row
    the same shape (Keras' History and CSVLogger expect the same keys each epoch). The
    samples are drawn with a fixed `seed` (classes in turn for conditional GANs), so the
    curve follows the generator, not the noise; the real features are computed once.

    FID is biased upwards at small sample counts: values logged with `num_samples=2000` are
    for comparing epochs of one run, not with 10,000-sample FIDs.

    Args:
        real_images: reference images (uint8 or float [-1, 1]), e.g. the MNIST test split.
        classifier: a `keras_gans.evaluation.FeatureExtractor` (e.g. `MNISTClassifier`) or the
            path of a `.keras` MNIST classifier.
        every: measure after every `every`-th epoch (and not in between).
        num_samples: generated samples per measurement.
        seed: seed of those samples.
        batch_size: samples per generator call and classifier pass.
        name: the log key.

    Example:
        clf = kg.evaluation.load_classifier()   # the shipped MNIST classifier
        gan.fit(data, epochs=20, callbacks=[FIDMonitor(test_images, clf, every=5),
                                            HistoryCSV("runs/dcgan/history.csv")])
    """

    def __init__(self, real_images, classifier, every=1, num_samples=2000, seed=0, batch_size=500, name="fid"):
        super().__init__()
        checks.integer(every, "every")
        checks.integer(num_samples, "num_samples", 2, " (FID needs a covariance)")
        self.real_images = real_images
        self.classifier = classifier
        self.every = every
        self.num_samples = num_samples
        self.seed = seed
        self.batch_size = batch_size
        self.name = name
        self.scores = []  # (epoch, keras_gans.evaluation.Score) per measurement
        self._real_features = None

    def _extractor(self):
        from keras_gans import evaluation

        self.classifier = evaluation.load_classifier(self.classifier, self.batch_size)
        return self.classifier

    def measure(self):
        """FID of `num_samples` samples of the model now, as a `keras_gans.evaluation.Score`."""
        from keras_gans import evaluation

        extractor = self._extractor()
        if self._real_features is None:
            self._real_features = evaluation.compute_features(extractor, self.real_images, self.batch_size)
        samples, _ = evaluation.generate_samples(
            self.model, self.num_samples, self.seed, self.batch_size,
            num_classes=getattr(extractor, "num_classes", None),
        )
        features = evaluation.compute_features(extractor, samples, self.batch_size)
        return evaluation.fid(self._real_features, features)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if (epoch + 1) % self.every:
            logs[self.name] = float("nan")
            return
        score = self.measure()
        self.scores.append((epoch + 1, score))
        logs[self.name] = float(score.value)
