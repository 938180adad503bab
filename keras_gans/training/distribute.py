"""tf.distribute strategies by name, and the one place that converts batch sizes.

Names: `auto` (all local GPUs, else the default strategy), `one_device`, `mirrored`,
`multi_worker` (from TF_CONFIG), `tpu`. Build the GAN and compile it inside
`strategy.scope()`; `load(..., batch_size=global_batch_size(...))` feeds the global batch.

Example:
    import keras_gans as kg

    strategy = kg.distribute.get_strategy("auto")
    batch = kg.distribute.global_batch_size(64, strategy, per_replica=True)
    with strategy.scope():
        gan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=100)
        ...
    gan.fit(kg.data.load("mnist", batch_size=batch), epochs=5)
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from keras_gans import checks

_STRATEGY_NAMES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


def strategy_names() -> tuple[str, ...]:
    """The names `get_strategy` accepts.

    Example:
        >>> strategy_names()
        ('auto', 'one_device', 'mirrored', 'multi_worker', 'tpu')
    """
    return _STRATEGY_NAMES


def get_strategy(name="auto", *, tpu: str | None = None) -> tf.distribute.Strategy:
    """A `tf.distribute.Strategy` from a name.

    - `auto`: `MirroredStrategy` over all local GPUs if there are any, else the default
      (no-op, one replica) strategy.
    - `one_device`: `OneDeviceStrategy` on the first GPU, else on the CPU.
    - `mirrored`: `MirroredStrategy` over all local GPUs; without GPUs, over all logical
      CPU devices (see `use_logical_cpus`), or the one CPU.
    - `multi_worker`: `MultiWorkerMirroredStrategy`, cluster and task from the `TF_CONFIG`
      environment variable (checked first, with a clear error). Create it at program
      start, before other TensorFlow work.
    - `tpu`: `TPUStrategy` on the TPU found by `TPUClusterResolver(tpu=tpu)`.

    Args:
        name: one of `strategy_names()` (case-insensitive, `-` or `_`), or a
            `tf.distribute.Strategy`, returned as is.
        tpu: TPU name or `grpc://` address for `tpu`; None lets the resolver find it (on
            Cloud TPU VMs and Colab).

    Returns:
        The strategy.

    Example:
        >>> get_strategy("one_device").num_replicas_in_sync
        1
    """
    if isinstance(name, tf.distribute.Strategy):
        return name
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else None
    if key not in _STRATEGY_NAMES:
        raise ValueError(
            f"Unknown strategy {name!r}; expected one of: {', '.join(_STRATEGY_NAMES)} "
            "(or a tf.distribute.Strategy)."
        )
    if key == "multi_worker":
        # Before anything lists devices: that initialises TensorFlow, after which
        # MultiWorkerMirroredStrategy fails ("Collective ops must be configured at program
        # startup").
        read_tf_config()  # fail here, with a clear message, rather than inside TensorFlow
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as e:
            raise RuntimeError(
                f"Cannot create MultiWorkerMirroredStrategy ({e}): create it at program start, "
                "before any TensorFlow op or device listing."
            ) from e
    if key == "tpu":
        return _tpu_strategy(tpu)
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if key == "auto":
        return tf.distribute.MirroredStrategy(gpus) if gpus else tf.distribute.get_strategy()
    if key == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else "/cpu:0")
    devices = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]  # mirrored
    return tf.distribute.MirroredStrategy(devices)


def read_tf_config(value: str | None = None) -> dict:
    """Parse and check a TF_CONFIG: a cluster with workers, and this task's type and index.

    Args:
        value: the JSON text; None reads the `TF_CONFIG` environment variable.

    Returns:
        The parsed dict.

    Example:
        >>> read_tf_config('{"cluster": {"worker": ["localhost:12345"]},'
        ...                ' "task": {"type": "worker", "index": 0}}')["task"]["index"]
        0
    """
    example = (
        'expected JSON like {"cluster": {"worker": ["host1:port", "host2:port"]}, '
        '"task": {"type": "worker", "index": 0}}'
    )
    if value is None:
        value = os.environ.get("TF_CONFIG")
        if not value:
            raise ValueError(
                "multi_worker needs the TF_CONFIG environment variable, which is not set; "
                f"{example}, set on every worker with its own index."
            )
    try:
        config = json.loads(value)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}): {value!r}; {example}.") from e
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError(f"TF_CONFIG has no 'cluster' mapping: {value!r}; {example}.")
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses:
            raise ValueError(
                f"TF_CONFIG cluster[{job!r}] must be a non-empty list of 'host:port'; got "
                f"{addresses!r}."
            )
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(f"TF_CONFIG has no 'task' with 'type' and 'index': {value!r}; {example}.")
    job, index = task["type"], task["index"]
    if job not in cluster:
        raise ValueError(
            f"TF_CONFIG task type {job!r} is not a job of the cluster ({', '.join(cluster)})."
        )
    if not isinstance(index, int) or not 0 <= index < len(cluster[job]):
        raise ValueError(
            f"TF_CONFIG task index {index!r} is out of range for {len(cluster[job])} "
            f"{job!r} address(es)."
        )
    return config


def _tpu_strategy(tpu: str | None) -> tf.distribute.Strategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
        raise ValueError(
            f"No TPU found (tpu={tpu!r}): {e}. Run on a Cloud TPU VM or Colab TPU runtime, or "
            "pass the TPU name or grpc:// address as tpu=; on this machine use 'auto', "
            "'mirrored' or 'one_device'."
        ) from e
    return tf.distribute.TPUStrategy(resolver)


def _num_replicas(strategy) -> int:
    if strategy is None:
        strategy = tf.distribute.get_strategy()
    if isinstance(strategy, int):
        return strategy
    return int(strategy.num_replicas_in_sync)


def global_batch_size(batch_size: int, strategy=None, *, per_replica: bool = False) -> int:
    """The global batch size (what `load(..., batch_size=...)` gets), checked against replicas.

    Keras `fit` under a strategy splits each global batch evenly across replicas, so the
    global batch must be divisible by `strategy.num_replicas_in_sync`.

    Args:
        batch_size: the global batch size, or the per-replica one if `per_replica`.
        strategy: a `tf.distribute.Strategy`, a number of replicas, or None for the current
            strategy.
        per_replica: `batch_size` is per replica; multiply it by the number of replicas.

    Returns:
        The global batch size.

    Example:
        >>> global_batch_size(64, 2, per_replica=True)
        128
        >>> global_batch_size(128, 2)
        128
    """
    _check_positive(batch_size)
    replicas = _num_replicas(strategy)
    if per_replica:
        return batch_size * replicas
    if batch_size % replicas:
        raise ValueError(
            f"Global batch size {batch_size} is not divisible by the {replicas} replicas in "
            f"sync; use a multiple of {replicas} (e.g. {max(1, batch_size // replicas) * replicas}), "
            "or give a per-replica batch size with per_replica=True."
        )
    return batch_size


def per_replica_batch_size(global_batch: int, strategy=None) -> int:
    """The batch each replica sees, after checking that the global batch divides evenly.

    Args:
        global_batch: the global batch size.
        strategy: a `tf.distribute.Strategy`, a number of replicas, or None for the current
            strategy.

    Returns:
        `global_batch // num_replicas_in_sync`.

    Example:
        >>> per_replica_batch_size(128, 4)
        32
    """
    return global_batch_size(global_batch, strategy) // _num_replicas(strategy)


def _check_positive(batch_size) -> None:
    checks.integer(batch_size, "batch_size")


def use_logical_cpus(n: int) -> list[str]:
    """Split the first physical CPU into `n` logical devices, for MirroredStrategy tests/demos.

    TensorFlow fixes its devices when it first initialises them (the first op, or a call to
    `tf.config.list_logical_devices`), so call this at program start. Calling it again with
    the same `n` after initialisation is harmless.

    Args:
        n: number of logical CPU devices (>= 1).

    Returns:
        The logical CPU device names, e.g. `['/device:CPU:0', '/device:CPU:1']`; TensorFlow
        is not initialised by this call.

    Example:
        >>> import keras_gans as kg
        >>> kg.distribute.use_logical_cpus(2)  # doctest: +SKIP
        ['/device:CPU:0', '/device:CPU:1']
        >>> kg.distribute.get_strategy("mirrored").num_replicas_in_sync  # doctest: +SKIP
        2
    """
    checks.integer(n, "n")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError as e:
        current = tf.config.list_logical_devices("CPU")
        if len(current) == n:
            return [d.name for d in current]
        raise RuntimeError(
            f"Cannot split the CPU into {n} logical devices: TensorFlow has already "
            f"initialised its devices ({len(current)} logical CPU(s)). Call "
            "use_logical_cpus() at program start, before any TensorFlow op."
        ) from e
    # Not tf.config.list_logical_devices: that would initialise TensorFlow now, and a
    # MultiWorkerMirroredStrategy created afterwards could no longer configure collectives.
    return [f"/device:CPU:{i}" for i in range(n)]
