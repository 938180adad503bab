"""One run of the reproducibility test (tests/test_reproducibility.py).

Seeds everything (`keras.utils.set_random_seed` and the GANs' own `seed`), turns on
`tf.config.experimental.enable_op_determinism()`, trains a tiny DCGAN and a tiny WGAN-GP
for a few steps on CPU with `fit`, and saves, per family, to an `.npz`:
`<family>/initial_<i>` and `<family>/weight_<i>` (the weights before and after),
`<family>/optimizer_<i>` (both optimizers' variables) and `<family>/history_<name>`.
Op determinism is process-wide, hence a process of its own.

Run as: `python -m tests.reproducibility_worker OUT.npz --seed 7 --steps 3`.
"""

import argparse
import sys

# DCGAN: BatchNorm in both networks; WGAN-GP: LayerNorm critic, gradient penalty
# (second-order gradients), 5 critic steps per generator step.
FAMILIES = {"dcgan": "DCGAN", "wgan_gp": "WGANGP"}
TINY_IMAGE = dict(image_shape=(16, 16, 1), latent_dim=4, g_width=4, d_width=4)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the .npz file to write")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    import keras_gans as kg

    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()

    arrays = {}
    for family, class_name in FAMILIES.items():
        gan = getattr(kg.models, class_name)(**TINY_IMAGE, seed=args.seed)
        gan.compile()
        arrays.update({f"{family}/initial_{i}": v.numpy() for i, v in enumerate(gan.weights)})
        batch = 4 * gan.d_steps
        images = np.random.default_rng(args.seed).uniform(
            -1, 1, (batch * args.steps, *gan.image_shape)
        ).astype("float32")
        data = (
            tf.data.Dataset.from_tensor_slices(images)
            .shuffle(len(images), seed=args.seed)
            .batch(batch, drop_remainder=True)
        )
        history = gan.fit(data, epochs=1, verbose=0)
        arrays.update({f"{family}/weight_{i}": v.numpy() for i, v in enumerate(gan.weights)})
        optimizer_vars = gan.d_optimizer.variables + gan.g_optimizer.variables
        arrays.update({f"{family}/optimizer_{i}": v.numpy() for i, v in enumerate(optimizer_vars)})
        arrays.update({f"{family}/history_{k}": np.ravel(v) for k, v in history.history.items()})
    np.savez(args.out, **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
