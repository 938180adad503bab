"""Training speed of every family beside the keras.io pattern on the same networks, as tables.

For each family the script builds the project's model and a keras.io-style counterpart: a
bare `keras.Model` whose `train_step` is written the way the keras.io GAN examples write
theirs (`tf.random.normal` noise, the optimizers' `apply_gradients`, two loss trackers, no
checks), on clones of the same generator and discriminator, with the same losses, the same k
discriminator steps per generator step, and the same calls of the discriminator per step
(real and fake apart when it has BatchNorm, as the DCGAN paper does, together otherwise).
So the ratio measures what the project's step costs beyond the algorithm itself.

Both train with `model.fit` on the same in-memory batches. Rounds alternate between the two
(project, pattern, project, pattern, ...) so that both see the same machine load; the table
gives medians over rounds, and the ratio is the median of the per-round ratios. Rounds are
short and many: on a 2-core machine any other process makes TensorFlow's two compute threads
wait for each other, and a step then takes about 1.6x as long (seen here: 21 ms or 34 ms per
vanilla_gan step, nothing in between), in stretches of seconds. Short adjacent rounds see the
same state, so their ratio holds; the best round of each model is printed beside it as the
machine's undisturbed figure.

It also measures the input pipeline alone (`kg.data.load`, the batches `fit` reads), the
training step's FLOPs per image (counted by TensorFlow's profiler on the traced step) and the
FLOP/s achieved, beside the float32 matmul peak measured on this machine.

Example (from the project root):
    python benchmarks/train_speed.py                    # all families, 15 rounds
    python benchmarks/train_speed.py --families dcgan --rounds 9 --steps-per-execution 1 8
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

FAMILIES = {
    # name: (class name, constructor arguments beyond image_shape/latent_dim)
    "vanilla_gan": ("VanillaGAN", {}),
    "dcgan": ("DCGAN", {"g_width": 64, "d_width": 64}),
    "dcgan_sn": ("DCGAN", {"g_width": 64, "d_width": 64, "norm": "none", "spectral_norm": True}),
    "cgan": ("ConditionalGAN", {"num_classes": 10}),
    "wgan": ("WGAN", {"g_width": 64, "d_width": 64}),
    "wgan_gp": ("WGANGP", {"g_width": 64, "d_width": 64}),
}


def keras_io_style(gan):
    """A keras.io-style GAN on clones of `gan`'s networks, compiled like `gan`."""
    import keras
    import tensorflow as tf

    from keras_gans import losses as losses_lib

    class KerasIOStyleGAN(keras.Model):
        def __init__(self):
            super().__init__()
            self.generator = keras.models.clone_model(gan.generator)
            self.discriminator = keras.models.clone_model(gan.discriminator)
            self.d_optimizer = type(gan.d_optimizer).from_config(gan.d_optimizer.get_config())
            self.g_optimizer = type(gan.g_optimizer).from_config(gan.g_optimizer.get_config())
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def _d(self, x, labels):
            if labels is None:
                return self.discriminator(x, training=True)
            return self.discriminator([x, tf.reshape(labels, [-1, 1])], training=True)

        def _g(self, m, labels):
            z = tf.random.normal([m, gan.latent_dim])
            return self.generator(z if labels is None else [z, labels], training=True)

        def train_step(self, data):
            real, labels = data if isinstance(data, tuple) else (data, None)
            k, batch = gan.d_steps, tf.shape(real)[0]
            m = batch // k
            for j in range(k):
                real_j = real[j * m : (j + 1) * m]
                labels_j = None if labels is None else labels[j * m : (j + 1) * m]
                fake = self._g(m, labels_j)
                with tf.GradientTape() as tape:
                    if joint:
                        both_labels = None if labels_j is None else tf.concat([labels_j, labels_j], 0)
                        real_out, fake_out = tf.split(self._d(tf.concat([real_j, fake], 0), both_labels), 2)
                    else:
                        real_out, fake_out = self._d(real_j, labels_j), self._d(fake, labels_j)
                    d_loss = gan.gan_loss.discriminator(real_out, fake_out)
                    if gan.gp_weight:
                        alpha = tf.random.uniform([m])
                        critic = lambda x, labels_j=labels_j: self._d(x, labels_j)  # noqa: E731
                        d_loss += gan.gp_weight * losses_lib.gradient_penalty(critic, real_j, fake, alpha=alpha)
                d_vars = self.discriminator.trainable_weights
                self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
                if gan.clip_value is not None:
                    for var in d_vars:
                        var.assign(tf.clip_by_value(var, -gan.clip_value, gan.clip_value))
            g_labels = None if labels is None else labels[(k - 1) * m :]
            with tf.GradientTape() as tape:
                g_loss = gan.gan_loss.generator(self._d(self._g(m, g_labels), g_labels))
            g_vars = self.generator.trainable_weights
            self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {m.name: m.result() for m in self.metrics}

    joint = gan._batch_independent_discriminator
    model = KerasIOStyleGAN()
    model.compile()
    return model


def matmul_peak(n=1024, repeats=20):
    """Float32 matmul FLOP/s of this machine: the best of several timed n x n products."""
    import tensorflow as tf

    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])

    @tf.function
    def chain(a, b):
        for _ in range(10):
            a = tf.matmul(a, b) * 1e-3
        return a

    chain(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        chain(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 10 * 2 * n**3 / best


def step_flops(gan, batch):
    """FLOPs of one training step on `batch` images, counted on the traced step's graph."""
    import tensorflow as tf
    from tensorflow.python.profiler import model_analyzer, option_builder

    images = tf.TensorSpec([batch, *gan.image_shape], tf.float32)
    labels = None if gan.num_classes is None else tf.TensorSpec([batch], tf.int32)
    fn = tf.function(lambda real, labels=None: gan._train_step(real, labels))
    concrete = fn.get_concrete_function(images, labels) if labels is not None else fn.get_concrete_function(images)
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # The TF1 profiler warns of its own deprecation on every call.
    try:
        return model_analyzer.profile(concrete.graph, options=options).total_float_ops
    finally:
        logger.setLevel(level)


def _dataset(images, labels, batch, conditional):
    import tensorflow as tf

    data = (images, labels) if conditional else images
    return tf.data.Dataset.from_tensor_slices(data).batch(batch, drop_remainder=True).cache().repeat()


def _fit_seconds(model, dataset, steps):
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return time.perf_counter() - start


def _mnist(path):
    from keras_gans import data

    for candidate in (path, "../shared/data/mnist", "tests/data/mnist"):
        if candidate and os.path.isdir(candidate):
            try:
                images, labels = data.load_arrays(candidate, split="train")
                return candidate, "train", images, labels
            except ValueError:
                images, labels = data.load_arrays(candidate, split="test")
                return candidate, "test", images, labels
    raise SystemExit("no MNIST folder found: pass --mnist DIR")


def pipeline_rate(source, split, batch, batches=300):
    """Images/s of `kg.data.load` alone: the batches fit reads, converted to float."""
    import keras_gans as kg

    ds = kg.data.load(source, split=split, batch_size=batch, seed=0).repeat()
    it = iter(ds)
    for _ in range(20):
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--batch", type=int, default=128, help="images per discriminator minibatch (m)")
    parser.add_argument("--steps", type=int, default=20,
                        help="fit steps per round (divided by k for the k = 5 families, so every "
                             "round trains on about the same number of images)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per family")
    parser.add_argument("--steps-per-execution", type=int, nargs="+", default=[1])
    parser.add_argument("--mnist", default=None, help="MNIST IDX folder (default ../shared/data/mnist)")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    import keras_gans as kg

    source, split, images, labels = _mnist(args.mnist)
    images = (images.astype(np.float32) / 127.5 - 1.0)
    labels = labels.astype(np.int32)
    peak = matmul_peak()
    pipeline = pipeline_rate(source, split, args.batch)
    print(f"keras-gans training speed: {platform.node()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; TensorFlow {tf.__version__}, Keras {keras.__version__}")
    print(f"MNIST {split} split from {source} ({len(images)} images), minibatch {args.batch}, "
          f"{args.steps} fit steps per round ({args.steps} / k for k > 1), {args.rounds} interleaved "
          "rounds; medians.")
    print(f"float32 matmul peak (1024 x 1024): {peak / 1e9:.1f} GFLOP/s; input pipeline alone "
          f"(kg.data.load, batch {args.batch}): {pipeline:,.0f} images/s\n")
    print("| family | steps/exec | k | project images/s | keras.io pattern images/s | ratio (range) "
          "| best rounds: project / pattern images/s (ratio) "
          "| GFLOP per image | GFLOP/s (% of peak) | pipeline / step rate |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.families:
        cls_name, extra = FAMILIES[name]
        for spe in args.steps_per_execution:
            keras.utils.set_random_seed(0)
            gan = getattr(kg.models, cls_name)(image_shape=(28, 28, 1), latent_dim=100, seed=0, **extra)
            gan.compile(steps_per_execution=spe)
            pattern = keras_io_style(gan)
            pattern.compile(steps_per_execution=spe)
            k = gan.d_steps
            dataset = _dataset(images, labels, args.batch * k, gan.num_classes is not None)
            for model in (gan, pattern):  # trace and warm up both
                _fit_seconds(model, dataset, 2 * spe)
            steps = max(spe, args.steps // k // spe * spe)
            ours, theirs = [], []
            for _ in range(args.rounds):
                ours.append(_fit_seconds(gan, dataset, steps))
                theirs.append(_fit_seconds(pattern, dataset, steps))
            per_image = step_flops(gan, args.batch * k) / (args.batch * k)
            images_per_round = steps * args.batch * k
            rate = images_per_round / statistics.median(ours)
            pattern_rate = images_per_round / statistics.median(theirs)
            best, pattern_best = images_per_round / min(ours), images_per_round / min(theirs)
            ratios = [t / o for o, t in zip(ours, theirs)]
            achieved = per_image * rate
            print(f"| {name} | {spe} | {k} | {rate:,.0f} | {pattern_rate:,.0f} | "
                  f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | "
                  f"{best:,.0f} / {pattern_best:,.0f} ({best / pattern_best:.2f}x) | "
                  f"{per_image / 1e9:.3f} | {achieved / 1e9:.1f} ({100 * achieved / peak:.0f}%) | "
                  f"{pipeline / rate:.0f}x |", flush=True)
    print("\nratio: the project's images/s over the pattern's, per round (>1: the project is faster).")


if __name__ == "__main__":
    main()
