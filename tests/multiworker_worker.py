"""One process of the multi-worker training test (tests/test_multiworker.py).

With `TF_CONFIG` set, it is one worker of a `MultiWorkerMirroredStrategy` cluster; without,
it is the single-process reference run on the same global batches. Either way it trains a
tiny GAN for a few steps with `model.fit` and saves, to an `.npz`:
`weight_<i>` (the GAN's weights), `optimizer_<i>` (both optimizers' variables),
`history_<name>` (the logged metrics), `weight_names`, `replicas` (replicas in sync) and
`d_iterations` (discriminator updates applied).

Run as: `python -m tests.multiworker_worker OUT.npz --family vanilla --steps 3 --batch 64`.
"""

import argparse
import os
import sys


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the .npz file to write")
    parser.add_argument("--family", choices=("vanilla", "dcgan"), default="vanilla")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64, help="global batch size")
    parser.add_argument("--overflow-worker", type=int, default=None,
                        help="train in mixed_float16, with this worker's data x 3000 (float16 overflow)")
    return parser.parse_args(argv)


def _build(kg, family):
    if family == "vanilla":
        # MLPs, no batch statistics: the same update on 2 workers as on one device.
        return kg.models.VanillaGAN(
            image_shape=(2,), latent_dim=2, g_hidden=(16,), d_hidden=(16,), seed=3
        )
    return kg.models.DCGAN(image_shape=(16, 16, 1), latent_dim=4, g_width=4, d_width=4, seed=3)


def _data(kg, tf, family, batch, steps):
    """`steps` global batches, sharded by Keras per element (AutoShardPolicy.DATA).

    Unshuffled: tf.distribute rewrites the input pipeline, after which a seeded shuffle
    runs in another order (the same on every worker) than in one process, and the test
    compares with one process.
    """
    if family == "vanilla":
        return kg.data.mixture("ring8").dataset(
            batch_size=batch, seed=0, shuffle=False, num_samples=batch * steps
        )
    images = tf.random.stateless_uniform([batch * steps, 16, 16, 1], seed=[0, 1], minval=-1.0)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True)
    return dataset.with_options(options)


def main(argv=None):
    args = _parse(argv)
    import numpy as np
    import tensorflow as tf

    import keras_gans as kg

    # Both settings must come before TensorFlow initialises: threads so that two workers
    # share a small machine politely, the strategy because collectives are configured
    # at program start.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if os.environ.get("TF_CONFIG"):
        strategy = kg.distribute.get_strategy("multi_worker")
    else:
        strategy = tf.distribute.get_strategy()

    data = _data(kg, tf, args.family, args.batch, args.steps)
    if args.overflow_worker is not None:
        import keras

        keras.mixed_precision.set_global_policy("mixed_float16")
        if strategy.cluster_resolver.task_id == args.overflow_worker:
            data = data.map(lambda x: x * 3000.0)
    with strategy.scope():
        gan = _build(kg, args.family)
        gan.compile()
    history = gan.fit(data, epochs=1, steps_per_epoch=args.steps, verbose=0)
    arrays = {f"weight_{i}": v.numpy() for i, v in enumerate(gan.weights)}
    arrays["weight_names"] = np.array([v.path for v in gan.weights])
    optimizer_vars = gan.d_optimizer.variables + gan.g_optimizer.variables
    arrays.update({f"optimizer_{i}": v.numpy() for i, v in enumerate(optimizer_vars)})
    arrays.update({f"history_{k}": np.ravel(v) for k, v in history.history.items()})
    arrays["replicas"] = np.array(strategy.num_replicas_in_sync)
    arrays["d_iterations"] = np.array(gan.d_optimizer.iterations.numpy())
    np.savez(args.out, **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
