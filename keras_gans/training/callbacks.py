"""Callbacks for watching a GAN train: per-step curves, sample grids from a fixed z (PNG and
TensorBoard), translation grids, and FID."""

import csv
import math
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from keras_gans import checks
from keras_gans import images as images_lib
from keras_gans.training.runs import complete_backups


def generator_step(model):
    """The generator steps `model` has taken: its `train_steps` counter (restored with the
    weights, so a resumed run counts on), else its generator optimizer's iterations."""
    counter = getattr(model, "train_steps", None)
    if counter is None:
        counter = model.g_optimizer.iterations
    return int(np.asarray(keras.ops.convert_to_numpy(counter)))


class _SummaryWriter:
    """A TensorBoard event writer opened on first use (TensorFlow imported then)."""

    def __init__(self, log_dir):
        self.log_dir = None if log_dir is None else str(log_dir)
        self._writer = None

    def __bool__(self):
        return self.log_dir is not None

    def scalars(self, values, step, prefix=""):
        import tensorflow as tf

        with self._open().as_default():
            for name, value in values.items():
                tf.summary.scalar(prefix + name, value, step=step)

    def image(self, name, image, step):
        import tensorflow as tf

        image = np.asarray(image, np.uint8)
        with self._open().as_default():
            tf.summary.image(name, image[None], step=step)
        self._writer.flush()

    def _open(self):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self._writer

    def close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class _GridCallback(keras.callbacks.Callback):
    """Writes `image()` as `{prefix}_epoch_{epoch:04d}.png` every `every` epochs, and as a
    TensorBoard image (tag `prefix`, step: the generator step) then and every `every_steps`."""

    prefix = "grid"

    def __init__(self, out_dir, every=1, log_dir=None, every_steps=None):
        super().__init__()
        if every_steps is not None:
            checks.integer(every_steps, "every_steps")
        self.out_dir = out_dir
        self.every = every
        self.every_steps = every_steps
        self.board = _SummaryWriter(log_dir)
        self.paths = []
        self._step = 0

    def image(self):
        """The grid of the model now, uint8 [H, W, C] (C = 1 or 3)."""
        raise NotImplementedError

    def on_epoch_begin(self, epoch, logs=None):
        self._step = generator_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.board and self.every_steps and self._step % self.every_steps == 0:
            self.board.image(self.prefix, self.image(), self._step)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        path = f"{self.out_dir}/{self.prefix}_epoch_{epoch + 1:04d}.png"
        image = self.image()
        images_lib.save_png(path, image)
        self.paths.append(path)
        if self.board and not (self.every_steps and self._step % self.every_steps == 0):
            self.board.image(self.prefix, image, self._step)

    def on_train_end(self, logs=None):
        self.board.close()


class SampleGrid(_GridCallback):
    """Writes a grid of samples from the same latent batch after every epoch.

    The z (and labels) are fixed by `seed` once, so the grids of successive epochs show
    the same latent points as training moves them. A conditional GAN's grid has one row
    per class. 2-D samples (the toy mixtures) are drawn as a scatter plot instead. With
    `log_dir`, each grid also goes to TensorBoard (image `samples`, at the generator step),
    and with `every_steps` there every that many generator steps too.

    Args:
        out_dir: folder for `samples_epoch_{epoch:04d}.png`.
        n: samples per grid (a conditional GAN's: `n // num_classes` per class, at least 1).
        seed: seed of the fixed latent batch.
        every: write every `every` epochs.
        reference: 2-D data points drawn behind a toy mixture's samples.
        log_dir: TensorBoard folder (e.g. `runs/dcgan/logs/train`), or None.
        every_steps: also a TensorBoard image every that many generator steps (None: epochs only).

    Example:
        gan.fit(data, epochs=20, callbacks=[SampleGrid("runs/dcgan/samples", log_dir="runs/dcgan/logs/train")])
    """

    prefix = "samples"

    def __init__(self, out_dir, n=64, seed=0, every=1, reference=None, log_dir=None, every_steps=None):
        super().__init__(out_dir, every, log_dir, every_steps)
        self.n = n
        self.seed = seed
        self.reference = reference

    def image(self):
        gan = self.model
        if gan.num_classes is None:
            labels, cols = None, None
        else:
            per_class = max(1, self.n // gan.num_classes)
            labels, cols = np.repeat(np.arange(gan.num_classes), per_class), per_class
        samples = gan.sample(self.n if labels is None else len(labels), seed=self.seed, labels=labels)
        if samples.ndim == 2 and samples.shape[1] == 2:
            return _scatter_image(samples, self.reference)
        return images_lib.grid(samples, cols=cols)


def _scatter_image(points, reference):
    """`images_lib.scatter_png`'s plot as a uint8 RGB array."""
    import tempfile

    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        path = images_lib.scatter_png(Path(tmp) / "scatter.png", points, reference)
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))


class TranslationGrid(_GridCallback):
    """Writes a grid of the same images translated after every epoch (pix2pix, CycleGAN).

    One column per example; rows: the A images, their translation G(a), then for a
    model with a B -> A generator (CycleGAN) the reconstruction F(G(a)), and when
    `targets` are given (pix2pix's paired B images) the targets. Grayscale rows are shown
    as RGB beside colour ones. With `log_dir`, also a TensorBoard image `translations`.

    Args:
        out_dir: folder for `translations_epoch_{epoch:04d}.png`.
        images: a fixed batch of A images `[n, H, W, C_a]` (uint8 or floats in [-1, 1]).
        targets: optional B images paired with them.
        every: write every `every` epochs.
        log_dir: TensorBoard folder, or None.
        every_steps: also a TensorBoard image every that many generator steps.

    Example:
        a, b = next(iter(kg.data.load_paired("mnist_edges", mnist=..., shuffle=False, batch_size=16)))
        model.fit(data, callbacks=[TranslationGrid("runs/pix2pix/samples", a, b)])
    """

    prefix = "translations"

    def __init__(self, out_dir, images, targets=None, every=1, log_dir=None, every_steps=None):
        super().__init__(out_dir, every, log_dir, every_steps)
        self.images = np.asarray(images)
        self.targets = None if targets is None else np.asarray(targets)

    def image(self):
        model = self.model
        rows = [self.images, model.translate(self.images, direction="a_to_b")]
        if "b_to_a" in model.translators:
            rows.append(model.translate(rows[1], direction="b_to_a"))
        if self.targets is not None:
            rows.append(self.targets)
        rows = [images_lib.to_uint8(r) for r in rows]
        channels = max(r.shape[-1] for r in rows)
        rows = [np.repeat(r, channels, axis=-1) if r.shape[-1] == 1 else r for r in rows]
        return images_lib.grid(np.concatenate(rows), cols=len(self.images))


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


class StepHistory(keras.callbacks.Callback):
    """The training metrics every `every` generator steps: a CSV and TensorBoard scalars.

    GAN losses swing within an epoch; per-epoch values hide that. Keras passes each batch
    the means since the epoch began (fit resets the `Mean` trackers every epoch), so each
    row here is recovered as the mean over the steps since the row before: with M_n the
    mean of the epoch's first n steps, steps n0 + 1 .. n have mean (n M_n - n0 M_n0) / (n - n0).
    Every step counts in exactly one row; rows fall on multiples of `every` and on each
    epoch's last step, so epoch boundaries are exact. Under tf.distribute the logs are
    already reduced across replicas.

    Columns: `step` (the generator step the row ends at, see `generator_step`; restored with
    the weights, so a resumed run counts on), `epoch` (1-based), `steps` (how many steps the
    row averages), then the metrics (d_loss, g_loss, d_real, d_fake, gp, ...). A resumed run
    first drops the rows past the model's step (steps trained after its last backup, which
    it trains again), so no step range appears twice.

    With `log_dir`, each row also goes to TensorBoard as scalars `steps/<metric>` at its
    step, and the epoch's other logs (e.g. `fid` from a `FIDMonitor` before this callback)
    as scalars `<name>` at the epoch's last step, when finite.

    Args:
        path: the CSV file; its folder is created.
        every: generator steps per row.
        log_dir: TensorBoard folder (e.g. `runs/dcgan/logs/train`), or None.

    Example:
        gan.fit(data, epochs=5, callbacks=[StepHistory("runs/dcgan/history_steps.csv", every=10)])
        plot_curves("runs/dcgan/history_steps.csv", "runs/dcgan/loss_curves.png")
    """

    def __init__(self, path, every=10, log_dir=None):
        super().__init__()
        checks.integer(every, "every")
        self.path = Path(path)
        self.every = every
        self.board = _SummaryWriter(log_dir)
        self._fields = None
        self._checked = False

    def read(self):
        """The rows written so far, as dicts of strings (csv.DictReader's)."""
        return HistoryCSV(self.path).read()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1
        self._start = generator_step(self.model)  # after BackupAndRestore has restored it
        self._last = (0, {})  # (steps of this epoch in rows so far, their running means)
        self._keys = []
        if not self._checked:
            self._checked = True
            rows = self.read()
            kept = [r for r in rows if int(r["step"]) <= self._start]
            if len(kept) < len(rows):
                self._rewrite(kept)

    def on_train_batch_end(self, batch, logs=None):
        self._keys = list(logs or ())
        if (self._start + batch + 1) % self.every == 0:
            self._row(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        done = self._last[0]
        steps = generator_step(self.model) - self._start
        if steps > done:
            self._row(steps, {k: logs[k] for k in self._keys if k in logs})
        extra = {k: _scalar(v) for k, v in logs.items() if k not in self._keys}
        extra = {k: v for k, v in extra.items() if v is not None and np.isfinite(v)}
        if self.board and extra:
            self.board.scalars(extra, self._start + steps)

    def on_train_end(self, logs=None):
        self.board.close()

    def _row(self, n, logs):
        means = {k: v for k, v in ((k, _scalar(v)) for k, v in (logs or {}).items()) if v is not None}
        n0, previous = self._last
        values = {k: (n * m - n0 * previous.get(k, 0.0)) / (n - n0) for k, m in means.items()}
        self._last = (n, means)
        step = self._start + n
        self._append({"step": step, "epoch": self._epoch, "steps": n - n0, **values})
        if self.board:
            self.board.scalars(values, step, prefix="steps/")

    def _append(self, row):
        fields = _step_fields(row)
        if self._fields is None and self.path.exists():
            with self.path.open(newline="") as f:
                self._fields = next(csv.reader(f), None)
        if self._fields is not None and set(fields) <= set(self._fields):
            with self.path.open("a", newline="") as f:
                csv.DictWriter(f, fieldnames=self._fields).writerow(row)
            return
        self._rewrite(self.read() + [row])

    def _rewrite(self, rows):
        self._fields = _step_fields({k: None for r in rows for k in r})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.path)


_METRIC_ORDER = ("d_loss", "g_loss", "d_real", "d_fake", "gp")


def _step_fields(keys):
    """A StepHistory header: step, epoch, steps, the GAN metrics in their usual order, the rest sorted."""
    keys = set(keys) - {"step", "epoch", "steps"}
    known = [k for k in _METRIC_ORDER if k in keys]
    return ["step", "epoch", "steps"] + known + sorted(keys - set(known))


def _scalar(value):
    """A log value as a float (shape-[1] multi-worker values too), or None for a non-number."""
    try:
        return float(np.ravel(np.asarray(value, dtype=np.float64))[0])
    except (TypeError, ValueError, IndexError):
        return None


# Panels of the loss curves: the game's losses, the discriminator's outputs, then the rest.
_PANELS = (("losses", ("d_loss", "g_loss")), ("discriminator output on real / generated data", ("d_real", "d_fake")))


def ema(values, span):
    """Exponential moving average over about `span` points, debiased at the start (as
    TensorBoard's smoothing is), so the first points are not pulled towards 0."""
    alpha = 2.0 / (span + 1.0)
    out, average, weight = [], 0.0, 0.0
    for value in values:
        if not np.isfinite(value):  # a missing value: no point, and the average goes on
            out.append(np.nan)
            continue
        average = (1 - alpha) * average + alpha * value
        weight = (1 - alpha) * weight + alpha
        out.append(average / weight)
    return np.asarray(out)


def plot_curves(csv_path, png_path, smoothing=None):
    """Per-step loss curves of a `StepHistory` file as a PNG: raw and smoothed, by generator step.

    Panels: d_loss and g_loss; d_real and d_fake; then the other metrics (gp, l1, ...).
    Thin lines are the rows (means over `every` steps), thick ones their moving average;
    dotted verticals mark the ends of epochs.

    Args:
        csv_path: a `StepHistory` CSV.
        png_path: the PNG to write.
        smoothing: rows the moving average spans (default: a tenth of the rows, at most
            50; 1 draws no smoothed line).

    Returns:
        The matplotlib Figure (closed), whose lines hold the data plotted.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = HistoryCSV(csv_path).read()
    if not rows:
        raise ValueError(f"{csv_path} has no steps to plot.")
    steps = np.array([int(r["step"]) for r in rows])
    epochs = np.array([int(r["epoch"]) for r in rows])
    metrics = [k for k in rows[0] if k not in ("step", "epoch", "steps") and any(r[k] not in ("", None) for r in rows)]
    panels = [(title, [m for m in names if m in metrics]) for title, names in _PANELS]
    rest = [m for m in metrics if all(m not in names for _, names in _PANELS)]
    if rest:
        panels.append(("other terms", rest))
    panels = [(title, names) for title, names in panels if names]
    span = smoothing or max(1, min(round(len(rows) / 10), 50))
    every = int(np.median([int(r["steps"]) for r in rows]))
    first = int(steps[0]) - int(rows[0]["steps"])  # the step before the first row's steps

    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.8 * len(panels)), sharex=True, squeeze=False)
    ends = [int(steps[epochs == e].max()) for e in np.unique(epochs)]
    for ax, (title, names) in zip(axes[:, 0], panels):
        series = {n: np.array([float(r[n]) if r[n] not in ("", None) else np.nan for r in rows]) for n in names}
        scale = {n: np.nanmedian(np.abs(v)) if np.isfinite(v).any() else 0.0 for n, v in series.items()}
        twin = None
        for i, (name, values) in enumerate(series.items()):
            # A curve of another order of magnitude than the panel's first (pix2pix's g_loss
            # holds 100 x L1) gets the right-hand axis, or the first would look flat.
            other = i > 0 and not (0.2 <= (scale[name] + 1e-12) / (scale[names[0]] + 1e-12) <= 5)
            if other and twin is None:
                twin = ax.twinx()
            where, color = (twin if other else ax), f"C{i}"
            label = f"{name} (right axis)" if other else name
            if span > 1:
                where.plot(steps, values, color=color, linewidth=0.7, alpha=0.45)
                where.plot(steps, ema(values, span), color=color, linewidth=1.8, label=label)
            else:
                where.plot(steps, values, color=color, linewidth=1.2, marker="." if len(rows) < 40 else None,
                           label=label)
        for end in ends[:-1]:
            ax.axvline(end, color="0.6", linestyle=":", linewidth=0.9)
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(True, alpha=0.25)
        handles = [h for a in (ax, twin) if a is not None for h in a.get_legend_handles_labels()[0]]
        (twin or ax).legend(handles=handles, loc="best", fontsize=8, framealpha=0.8)
    top = axes[0, 0]
    # Epoch numbers above the first panel, at the middle of each epoch (at most ~12 shown).
    starts = [first] + ends[:-1]
    label_every = max(1, math.ceil(len(ends) / 12))
    for i, (e, a, b) in enumerate(zip(np.unique(epochs), starts, ends)):
        if i % label_every == 0:
            top.annotate(f"epoch {e}", xy=((a + b) / 2, 1.0), xycoords=("data", "axes fraction"),
                         xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                         fontsize=8, color="0.35")
    top.set_title(top.get_title(loc="left"), fontsize=10, loc="left", pad=14)
    smoothed = f"thick: moving average over ~{span * every} steps; " if span > 1 else ""
    axes[-1, 0].set_xlabel(f"generator step  ({smoothed}thin: mean over each {every} steps)", fontsize=9)
    axes[-1, 0].set_xlim(first, int(steps.max()))
    fig.tight_layout()
    Path(png_path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return fig


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

    def _point_at(self, folder):
        self._weights_path = str(Path(folder) / "latest.weights.h5")
        self._training_metadata_path = str(Path(folder) / "training_metadata.json")

    def on_train_begin(self, logs=None):
        backups = complete_backups(self.backup_dir)
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
        for old in complete_backups(self.backup_dir)[:-1]:
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
