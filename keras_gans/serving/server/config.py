"""TF Serving configuration files: `models.config`, `batching_parameters.txt`, `batching_params.pbtxt`.

`models.config` is a `ModelServerConfig` text proto (the message ships with
`tensorflow-serving-api`), read by `tensorflow_model_server
--model_config_file` and by the embedded server alike. `write_models_config`
regenerates it from the generators exported under `saved_models/`.

Example:
    from keras_gans.serving.server import config

    # serving/models.config, for the tensorflow/serving container (saved_models/ at /models):
    config.write_models_config("saved_models", "serving/models.config")
    # For a server on this machine (absolute local paths):
    config.write_models_config("saved_models", "runs/models.config", base_path_prefix=None)
"""

import functools
import os

from keras_gans import layout
from keras_gans.serving.errors import invalid_argument

# Where serving/docker-compose.yml and serving/k8s mount saved_models/.
CONTAINER_MODELS_DIR = "/models"


def model_server_config_pb2():
    from tensorflow_serving.config import model_server_config_pb2 as pb2

    return pb2


def parse_model_config_text(text):
    """Parses a `ModelServerConfig` text proto and validates it as TF Serving does.

    Args:
        text: the content of a `--model_config_file`.

    Returns:
        A `tensorflow.serving.ModelServerConfig` message.

    Raises:
        ServingError: INVALID_ARGUMENT when the text does not parse, holds no
            `model_config_list`, lists a model twice or has a relative base path.
    """
    from google.protobuf import text_format

    pb2 = model_server_config_pb2()
    config = pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as e:
        raise invalid_argument(f"Invalid protobuf file: {e}") from None
    validate_model_server_config(config)
    return config


def validate_model_server_config(config):
    """Checks a `ModelServerConfig` the way TF Serving's `ServerCore` does."""
    if config.WhichOneof("config") != "model_config_list":
        raise invalid_argument(
            "ModelServerConfig must hold a model_config_list "
            f"(custom_model_config is not supported); got {config.WhichOneof('config')}"
        )
    names = set()
    for model in config.model_config_list.config:
        if model.name in names:
            raise invalid_argument(f"Illegal to list model {model.name} multiple times in config list")
        names.add(model.name)
        if not model.name:
            raise invalid_argument("A model in the config list has no name")
        if "://" not in model.base_path and not os.path.isabs(model.base_path):
            raise invalid_argument(
                f"Expected model {model.name} to have an absolute path or URI; "
                f"got base_path()={model.base_path}"
            )
        if model.model_platform not in ("", "tensorflow"):
            raise invalid_argument(
                f"Model {model.name}: model_platform {model.model_platform!r} is not supported; "
                "expected 'tensorflow'"
            )


def read_model_config_file(path):
    """Reads and validates a `--model_config_file` (see `parse_model_config_text`)."""
    with open(path, encoding="utf-8") as f:
        return parse_model_config_text(f.read())


def single_model_config(model_name, model_base_path):
    """The `ModelServerConfig` of `--model_name` / `--model_base_path`."""
    pb2 = model_server_config_pb2()
    config = pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = model_name
    model.base_path = model_base_path
    model.model_platform = "tensorflow"
    validate_model_server_config(config)
    return config


def write_models_config(
    saved_models_dir, out_path="serving/models.config", base_path_prefix=CONTAINER_MODELS_DIR, num_versions=1
):
    """Writes `out_path`, a `models.config` serving every model in `saved_models_dir`.

    Args:
        saved_models_dir: folder holding one sub-folder per model
            (`<name>/<version>/saved_model.pb`; see `layout.model_names`).
        out_path: the file to write (replaced atomically).
        base_path_prefix: where the server sees `saved_models_dir`: by default
            `/models`, where the container of `serving/docker-compose.yml` and
            `serving/k8s` mounts it; `None` for the absolute local path of
            `saved_models_dir` (a server on this machine). TF Serving requires
            absolute base paths.
        num_versions: how many of the latest versions to serve per model.

    Returns:
        The `ModelServerConfig` written.

    Example:
        >>> write_models_config("saved_models", "serving/models.config")
    """
    from google.protobuf import text_format

    if not os.path.isdir(saved_models_dir):
        raise FileNotFoundError(f"No saved models folder at {saved_models_dir!r}")
    prefix = base_path_prefix or os.path.abspath(saved_models_dir)
    if "://" not in prefix and not os.path.isabs(prefix):
        raise ValueError(f"base_path_prefix must be absolute (TF Serving requires it); got {prefix!r}")
    pb2 = model_server_config_pb2()
    config = pb2.ModelServerConfig()
    model_list = config.model_config_list
    for name in layout.model_names(saved_models_dir):
        if "/" in name or ":" in name:
            continue  # Not addressable in TF Serving's REST paths.
        model = model_list.config.add()
        model.name = name
        model.base_path = prefix.rstrip("/") + "/" + name
        model.model_platform = "tensorflow"
        if num_versions != 1:
            model.model_version_policy.latest.num_versions = int(num_versions)
    validate_model_server_config(config)
    header = (
        "# TensorFlow Serving model config (a ModelServerConfig text proto).\n"
        f"# Generated from {os.path.basename(os.path.abspath(saved_models_dir))}/ by "
        "`keras-gans serving-config`; regenerate rather than edit.\n"
        f"# Base paths are under {prefix}.\n"
    )
    text = header + text_format.MessageToString(config)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    layout.write_text(out_path, text)
    return config


@functools.lru_cache(maxsize=None)
def batching_parameters_class():
    """The `tensorflow.serving.BatchingParameters` message class.

    `tensorflow-serving-api` does not ship `session_bundle_config.proto`, so
    the message is declared here from its documented fields
    (`tensorflow_serving/servables/tensorflow/session_bundle_config.proto`).
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

    T = descriptor_pb2.FieldDescriptorProto
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="keras_gans/batching_parameters.proto",
        package="tensorflow.serving",
        dependency=["google/protobuf/wrappers.proto"],
        syntax="proto3",
    )
    message = file_proto.message_type.add(name="BatchingParameters")
    wrapped = [
        ("max_batch_size", 1, "Int64Value"),
        ("batch_timeout_micros", 2, "Int64Value"),
        ("max_enqueued_batches", 3, "Int64Value"),
        ("num_batch_threads", 4, "Int64Value"),
        ("thread_pool_name", 5, "StringValue"),
        ("enable_large_batch_splitting", 8, "BoolValue"),
        ("max_execution_batch_size", 9, "Int64Value"),
    ]
    for name, number, wrapper in wrapped:
        message.field.add(
            name=name,
            number=number,
            type=T.TYPE_MESSAGE,
            type_name=f".google.protobuf.{wrapper}",
            label=T.LABEL_OPTIONAL,
        )
    message.field.add(
        name="allowed_batch_sizes", number=6, type=T.TYPE_INT64, label=T.LABEL_REPEATED
    )
    message.field.add(
        name="pad_variable_length_inputs", number=7, type=T.TYPE_BOOL, label=T.LABEL_OPTIONAL
    )
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.AddSerializedFile(file_proto.SerializeToString())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


def read_batching_parameters(path):
    """Parses a `--batching_parameters_file` (a `BatchingParameters` text proto)."""
    from google.protobuf import text_format

    params = batching_parameters_class()()
    with open(path, encoding="utf-8") as f:
        try:
            text_format.Parse(f.read(), params)
        except text_format.ParseError as e:
            raise invalid_argument(f"Invalid batching parameters file {path}: {e}") from None
    return params


# The per-model file TF Serving reads from a version's SavedModel folder with
# --enable_per_model_batching_parameters (bundle_factory_util.cc, kBatchingParamsFilename).
PER_MODEL_BATCHING_PARAMS_FILE = "batching_params.pbtxt"
# The thread pool TF Serving names when --enable_batching has no parameters file (server.cc).
DEFAULT_BATCH_THREAD_POOL = "model_server_batch_threads"


def queue_options(params):
    """The `batching.QueueOptions` of a `BatchingParameters` message, with TF Serving's defaults.

    Absent fields keep `SharedBatchScheduler::QueueOptions`' defaults (max_batch_size
    1000, batch_timeout_micros 0, max_enqueued_batches 10, no splitting; with
    splitting, max_execution_batch_size defaults to max_batch_size), as
    `GetQueueOptions` (bundle_factory_util.h) reads them. `num_batch_threads` and
    `thread_pool_name` belong to the server's scheduler, not to a queue.

    Raises:
        ServingError: INVALID_ARGUMENT with TF Serving's message for options it
            refuses (see `batching.QueueOptions.validated`).
    """
    from keras_gans.serving.server.batching import QueueOptions

    defaults = QueueOptions()

    def wrapped(field, default):
        return getattr(params, field).value if params.HasField(field) else default

    splitting = params.HasField("enable_large_batch_splitting") and params.enable_large_batch_splitting.value
    max_batch_size = wrapped("max_batch_size", defaults.max_batch_size)
    options = QueueOptions(
        max_batch_size=max_batch_size,
        batch_timeout_micros=wrapped("batch_timeout_micros", defaults.batch_timeout_micros),
        max_enqueued_batches=wrapped("max_enqueued_batches", defaults.max_enqueued_batches),
        enable_large_batch_splitting=bool(splitting),
        max_execution_batch_size=wrapped("max_execution_batch_size", max_batch_size) if splitting else None,
        allowed_batch_sizes=tuple(params.allowed_batch_sizes),
        pad_variable_length_inputs=params.pad_variable_length_inputs,
    )
    return options.validated()


class BatchingConfig:
    """What `--enable_batching`, `--batching_parameters_file` and `--enable_per_model_batching_parameters` ask for.

    Mirrors TF Serving (server.cc, saved_model_bundle_factory.cc, bundle_factory_util.cc):
    one scheduler for the server, whose `num_batch_threads` and `thread_pool_name` come
    from the server's parameters (default: as many threads as CPUs); each loaded version
    gets its queue options from the server's parameters or, per model, from
    `batching_params.pbtxt` in its version folder (a version without that file is
    served unbatched).

    Args:
        params: the server's `BatchingParameters` (None: `--enable_batching` without a
            file, every field at TF Serving's default).
        per_model: `--enable_per_model_batching_parameters`.

    Example:
        >>> batching = BatchingConfig(read_batching_parameters("serving/batching_parameters.txt"))
        >>> batching.options_for("/models/dcgan/1").max_batch_size
        1024
    """

    def __init__(self, params=None, per_model=False):
        if params is None:
            params = batching_parameters_class()()
            params.thread_pool_name.value = DEFAULT_BATCH_THREAD_POOL
        self.params = params
        self.per_model = per_model
        self.num_batch_threads = params.num_batch_threads.value if params.HasField("num_batch_threads") else None
        self.thread_pool_name = (
            params.thread_pool_name.value if params.HasField("thread_pool_name") else "batch_threads"
        )
        if self.num_batch_threads is not None and self.num_batch_threads < 1:
            raise invalid_argument(f"num_batch_threads must be positive; was {self.num_batch_threads}")
        self._common_options = None

    def common_options(self):
        """The server-wide queue options (validated once)."""
        if self._common_options is None:
            self._common_options = queue_options(self.params)
        return self._common_options

    def options_for(self, version_path):
        """The queue options of the version in `version_path`, or None to serve it unbatched.

        Raises:
            ServingError: INVALID_ARGUMENT for a per-model file that does not parse
                (`Invalid protobuf file: '<file>'`) or options TF Serving refuses; the
                version then fails to load, as in TF Serving.
        """
        if not self.per_model:
            return self.common_options()
        path = os.path.join(version_path, PER_MODEL_BATCHING_PARAMS_FILE)
        if not os.path.isfile(path):
            return None
        from google.protobuf import text_format

        params = batching_parameters_class()()
        with open(path, encoding="utf-8") as f:
            try:
                text_format.Parse(f.read(), params)
            except text_format.ParseError:
                raise invalid_argument(f"Invalid protobuf file: '{path}'") from None
        return queue_options(params)


def batching_config(enable_batching, batching_parameters_file="", per_model=False):
    """The `BatchingConfig` of the server's flags, or None without `--enable_batching`.

    Raises:
        ServingError: INVALID_ARGUMENT for a parameters file without
            `--enable_batching` (TF Serving's message), a file that does not parse,
            or `num_batch_threads` below 1.
    """
    if not enable_batching:
        if batching_parameters_file:
            raise invalid_argument(
                "server_options.batching_parameters_file is set without setting "
                "server_options.enable_batching to true."
            )
        return None
    params = read_batching_parameters(batching_parameters_file) if batching_parameters_file else None
    return BatchingConfig(params, per_model=per_model)
