"""`keras-gans serve`: TensorFlow Serving, or an embedded server speaking its protocol.

`main(argv)` takes `tensorflow_model_server`'s flags. When that binary is on
PATH it is exec'd with them (minus the embedded-only flags below); otherwise,
or with `--embedded`, the embedded server runs: the same REST API (Starlette
+ uvicorn) and gRPC API (grpcio, `tensorflow-serving-api` stubs), several
models and versions, the latest served by default, base paths polled for new
and removed versions. It loads SavedModels only (any SavedModel, not just
generators), with the TF1 loader TF Serving's C++ code mirrors.

TF Serving flags honoured: `--port` (gRPC, 0 disables), `--rest_api_port` (0
disables, the default), `--model_config_file`,
`--model_config_file_poll_wait_seconds`, `--model_name` (default "default"),
`--model_base_path`, `--file_system_poll_wait_seconds` (default 1; 0 polls
once), `--rest_api_enable_cors_support`, `--enable_batching`,
`--batching_parameters_file`, `--tensorflow_intra_op_parallelism`,
`--tensorflow_inter_op_parallelism`, `--tensorflow_session_parallelism`,
`--saved_model_tags`, `--grpc_max_threads`,
`--enable_serialization_as_tensor_content`. Other TF Serving flags are
accepted and ignored. The embedded server does not batch requests; with
`--enable_batching` it applies the batching session's input checks, so a
signature TF Serving could not batch fails here too.

Embedded-only flags: `--embedded` (never exec the binary) and `--host`
(interface to bind, default 0.0.0.0).

Example:
    keras-gans serve --model_config_file serving/models.config --port 8500 --rest_api_port 8501
    python -m keras_gans.serving.server --embedded --model_name dcgan \\
        --model_base_path saved_models/dcgan --rest_api_port 8501
"""

import argparse
import logging
import os
import shutil
import signal
import sys
import threading

from keras_gans import contract

BINARY = "tensorflow_model_server"
_EMBEDDED_ONLY = ("embedded", "host")

log = logging.getLogger("keras_gans.serving")


def _bool(text):
    value = str(text).strip().lower()
    if value in ("1", "true", "t", "yes"):
        return True
    if value in ("0", "false", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser():
    """The argparse parser of `tensorflow_model_server`'s flags (plus the embedded ones)."""
    p = argparse.ArgumentParser(
        prog="keras-gans serve",
        description="Serve SavedModels with TensorFlow Serving's REST and gRPC APIs.",
        allow_abbrev=False,
    )

    def flag(name, type=str, default=None, help=None):
        if type is bool:
            p.add_argument(f"--{name}", type=_bool, nargs="?", const=True, default=default, help=help)
        else:
            p.add_argument(f"--{name}", type=type, default=default, help=help)

    flag("port", int, 8500, "TCP port of the gRPC API (0 disables it).")
    flag("rest_api_port", int, 0, "TCP port of the REST API (0 disables it).")
    flag("model_config_file", str, "", "A ModelServerConfig text proto listing the models.")
    flag("model_config_file_poll_wait_seconds", int, 0, "Seconds between re-reads of the config file (0: once).")
    flag("model_name", str, "default", "Name of the model (without --model_config_file).")
    flag("model_base_path", str, "", "Base path of the model (without --model_config_file).")
    flag("file_system_poll_wait_seconds", int, 1, "Seconds between polls of the base paths (0: once).")
    flag("rest_api_enable_cors_support", bool, False, "Add CORS headers to REST answers.")
    flag("enable_batching", bool, False, "Check inputs as TF Serving's batching session does.")
    flag("batching_parameters_file", str, "", "BatchingParameters text proto (needs --enable_batching).")
    flag("enable_per_model_batching_parameters", bool, False)
    flag("tensorflow_session_parallelism", int, 0)
    flag("tensorflow_intra_op_parallelism", int, 0)
    flag("tensorflow_inter_op_parallelism", int, 0)
    flag("saved_model_tags", str, contract.SERVE_TAG, "Comma-separated meta graph tags to load.")
    flag("grpc_max_threads", int, 0)
    flag("enable_serialization_as_tensor_content", bool, False, "gRPC outputs as tensor_content bytes.")
    # Accepted for compatibility with tensorflow_model_server; no effect here.
    for name, type_ in [
        ("grpc_socket_path", str), ("rest_api_num_threads", int), ("rest_api_timeout_in_ms", int),
        ("allow_version_labels_for_unavailable_models", bool), ("num_load_threads", int),
        ("num_unload_threads", int), ("max_num_load_retries", int), ("load_retry_interval_micros", int),
        ("flush_filesystem_caches", bool), ("tensorflow_session_config_file", str),
        ("platform_config_file", str), ("ssl_config_file", str), ("use_alts_credentials", bool),
        ("per_process_gpu_memory_fraction", float), ("grpc_channel_arguments", str),
        ("enable_model_warmup", bool), ("num_request_iterations_for_warmup", int),
        ("monitoring_config_file", str), ("remove_unused_fields_from_bundle_metagraph", bool),
        ("xla_cpu_compilation_enabled", bool), ("enable_profiler", bool),
        ("thread_pool_factory_config_file", str), ("mixed_precision", str),
        ("prefer_tflite_model", bool), ("skip_initialize_tpu", bool),
    ]:
        flag(name, type_, None, argparse.SUPPRESS)
    flag("version", bool, False, "Print the version and exit.")
    flag("embedded", bool, False, "Run the embedded server even if tensorflow_model_server is on PATH.")
    flag("host", str, "0.0.0.0", "Interface to bind (embedded server only).")
    return p


def _binary_argv(args, argv):
    """`argv` for tensorflow_model_server: `--name=value`, embedded-only flags dropped."""
    out = [BINARY]
    defaults = build_parser().parse_args([])
    for name, value in vars(args).items():
        if name in _EMBEDDED_ONLY or value is None or value == getattr(defaults, name):
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append(f"--{name}={value}")
    return out


def main(argv=None):
    """Entry point of `keras-gans serve` (see the module docstring).

    Args:
        argv: the flags, without the program name (default `sys.argv[1:]`).

    Returns:
        The exit status (only when the embedded server ran; exec replaces the
        process otherwise).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    # TF Serving requires absolute base paths; resolve the command line's here.
    if args.model_base_path and "://" not in args.model_base_path:
        args.model_base_path = os.path.abspath(args.model_base_path)
    binary = shutil.which(BINARY)
    if binary and not args.embedded:
        if args.host != "0.0.0.0":
            print(f"keras-gans serve: {BINARY} binds every interface; --host is ignored", file=sys.stderr)
        os.execv(binary, _binary_argv(args, argv))
    return run_embedded(args)


def _session_config(args):
    import tensorflow as tf

    config = tf.compat.v1.ConfigProto()
    intra = args.tensorflow_intra_op_parallelism or args.tensorflow_session_parallelism
    inter = args.tensorflow_inter_op_parallelism or args.tensorflow_session_parallelism
    if intra:
        config.intra_op_parallelism_threads = intra
    if inter:
        config.inter_op_parallelism_threads = inter
    return config


def run_embedded(args):
    """Runs the embedded server until SIGINT/SIGTERM. `args` from `build_parser()`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from keras_gans.serving import config as config_lib
    from keras_gans.serving.core import ServingCore
    from keras_gans.serving.errors import ServingError
    from keras_gans.serving.manager import ModelManager

    if args.version:
        import keras_gans

        print(f"keras-gans embedded model server {keras_gans.__version__} (TF Serving protocol)")
        return 0
    try:
        if args.model_config_file:
            model_config = config_lib.read_model_config_file(args.model_config_file)
        elif args.model_base_path:
            model_config = config_lib.single_model_config(args.model_name, args.model_base_path)
        else:
            print(
                "Both --model_base_path and --model_config_file are empty: nothing to serve.",
                file=sys.stderr,
            )
            return 2
        if args.batching_parameters_file:
            if not args.enable_batching:
                raise ServingError(
                    "INVALID_ARGUMENT",
                    "server_options.batching_parameters_file is set without setting "
                    "server_options.enable_batching to true.",
                )
            config_lib.read_batching_parameters(args.batching_parameters_file)
    except ServingError as e:
        print(f"keras-gans serve: {e.message}", file=sys.stderr)
        return 2
    if args.port and args.port == args.rest_api_port:
        print("--rest_api_port must differ from --port", file=sys.stderr)
        return 2

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    manager = ModelManager(_session_config(args), tags=[t for t in args.saved_model_tags.split(",") if t])
    manager.set_config(model_config)
    manager.poll()  # Like TF Serving, load what is there before accepting requests.
    batching = args.enable_batching and not args.enable_per_model_batching_parameters
    core = ServingCore(manager, batching=batching)

    stop = threading.Event()
    grpc_server = None
    if args.port:
        from keras_gans.serving.grpc_api import create_grpc_server

        grpc_server = create_grpc_server(
            core,
            args.port,
            host=args.host,
            max_threads=args.grpc_max_threads or None,
            tensor_content=args.enable_serialization_as_tensor_content,
        )
        grpc_server.start()
        log.info("Running gRPC ModelServer at %s:%d ...", args.host, args.port)
    manager.start_polling(
        args.file_system_poll_wait_seconds,
        config_file=args.model_config_file or None,
        config_poll_wait_seconds=args.model_config_file_poll_wait_seconds,
    )
    try:
        if args.rest_api_port:
            import uvicorn

            from keras_gans.serving.rest import create_app

            app = create_app(core, enable_cors=args.rest_api_enable_cors_support)
            server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    host=args.host,
                    port=args.rest_api_port,
                    log_level="warning",
                    access_log=False,
                    lifespan="off",
                    http="h11",
                    loop="asyncio",
                )
            )
            log.info("Exporting HTTP/REST API at:%s:%d ...", args.host, args.rest_api_port)
            server.run()  # Returns on SIGINT / SIGTERM.
        else:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            stop.wait()
    finally:
        manager.stop()
        if grpc_server is not None:
            grpc_server.stop(grace=2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
