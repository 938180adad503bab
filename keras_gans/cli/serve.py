"""`keras-gans serve`: TensorFlow Serving, or the embedded server speaking its protocol.

    keras-gans serve --model_config_file serving/models.config --port 8500 --rest_api_port 8501
    keras-gans serve --embedded --model_name dcgan --model_base_path saved_models/dcgan --rest_api_port 8501

The flags are `tensorflow_model_server`'s. When that binary is on PATH it is exec'd with
them (minus the embedded-only flags below); otherwise, or with `--embedded`, the embedded
server runs with them (`keras_gans.serving.server.run_embedded`, which says what it serves).

TF Serving flags honoured by the embedded server: `--port` (gRPC, 0 disables),
`--rest_api_port` (0 disables, the default), `--model_config_file`,
`--model_config_file_poll_wait_seconds`, `--model_name` (default "default"),
`--model_base_path`, `--file_system_poll_wait_seconds` (default 1; 0 polls once),
`--rest_api_enable_cors_support`, `--enable_batching`, `--batching_parameters_file`,
`--tensorflow_intra_op_parallelism`, `--tensorflow_inter_op_parallelism`,
`--tensorflow_session_parallelism`, `--saved_model_tags`, `--grpc_max_threads`,
`--grpc_channel_arguments`, `--rest_api_num_threads`,
`--enable_serialization_as_tensor_content`. Other TF Serving flags are accepted and
ignored (and handed to the binary).

Embedded-only flags, never handed to the binary: `--embedded` (never exec the binary),
`--host` (interface to bind, default 0.0.0.0), `--rest_api_max_request_bytes` (largest
REST body, default 32 MiB: 413 beyond) and `--max_concurrent_requests` (Predict requests
in flight over REST and gRPC together, default 32: 503 / UNAVAILABLE beyond). See
`keras_gans.serving.server.ServerOptions` and serving/README.md ("Limits").
"""

import argparse
import dataclasses
import os
import shutil
import sys

BINARY = "tensorflow_model_server"
_EMBEDDED_ONLY = ("embedded", "host", "rest_api_max_request_bytes", "max_concurrent_requests")
# tensorflow_model_server flags the embedded server accepts and ignores.
_IGNORED = [
    ("grpc_socket_path", str), ("rest_api_timeout_in_ms", int),
    ("allow_version_labels_for_unavailable_models", bool), ("num_load_threads", int),
    ("num_unload_threads", int), ("max_num_load_retries", int), ("load_retry_interval_micros", int),
    ("flush_filesystem_caches", bool), ("tensorflow_session_config_file", str),
    ("platform_config_file", str), ("ssl_config_file", str), ("use_alts_credentials", bool),
    ("per_process_gpu_memory_fraction", float),
    ("enable_model_warmup", bool), ("num_request_iterations_for_warmup", int),
    ("monitoring_config_file", str), ("remove_unused_fields_from_bundle_metagraph", bool),
    ("xla_cpu_compilation_enabled", bool), ("enable_profiler", bool),
    ("thread_pool_factory_config_file", str), ("mixed_precision", str),
    ("prefer_tflite_model", bool), ("skip_initialize_tpu", bool),
]


def _bool(text):
    value = str(text).strip().lower()
    if value in ("1", "true", "t", "yes"):
        return True
    if value in ("0", "false", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_flags(p):
    from keras_gans.serving.server import ServerOptions  # the defaults: TF Serving's

    defaults = ServerOptions()

    def flag(name, type=str, help=None):
        default = getattr(defaults, name, None)
        if type is bool:
            p.add_argument(f"--{name}", type=_bool, nargs="?", const=True, default=default, help=help)
        else:
            p.add_argument(f"--{name}", type=type, default=default, help=help)

    flag("port", int, "TCP port of the gRPC API (0 disables it).")
    flag("rest_api_port", int, "TCP port of the REST API (0 disables it).")
    flag("model_config_file", str, "A ModelServerConfig text proto listing the models.")
    flag("model_config_file_poll_wait_seconds", int, "Seconds between re-reads of the config file (0: once).")
    flag("model_name", str, "Name of the model (without --model_config_file).")
    flag("model_base_path", str, "Base path of the model (without --model_config_file).")
    flag("file_system_poll_wait_seconds", int, "Seconds between polls of the base paths (0: once).")
    flag("rest_api_enable_cors_support", bool, "Add CORS headers to REST answers.")
    flag("enable_batching", bool, "Merge concurrent Predict requests into batches, as TF Serving's batching session does.")
    flag("batching_parameters_file", str, "BatchingParameters text proto (needs --enable_batching).")
    flag("enable_per_model_batching_parameters", bool, "Read batching_params.pbtxt from each model version's folder.")
    flag("tensorflow_session_parallelism", int)
    flag("tensorflow_intra_op_parallelism", int)
    flag("tensorflow_inter_op_parallelism", int)
    flag("saved_model_tags", str, "Comma-separated meta graph tags to load.")
    flag("grpc_max_threads", int, "gRPC worker threads (0: one per request in flight, at least 16).")
    flag("grpc_channel_arguments", str,
         "Comma-separated key=value grpc server options, e.g. grpc.max_receive_message_length=67108864 "
         "(the embedded server's default cap on received messages is 32 MiB).")
    flag("rest_api_num_threads", int, "REST worker threads (0: one per request in flight, at least 4 per CPU).")
    flag("enable_serialization_as_tensor_content", bool, "gRPC outputs as tensor_content bytes.")
    for name, type_ in _IGNORED:
        flag(name, type_, argparse.SUPPRESS)
    flag("version", bool, "Print the version and exit.")
    p.add_argument("--embedded", type=_bool, nargs="?", const=True, default=False,
                   help="Run the embedded server even if tensorflow_model_server is on PATH.")
    flag("host", str, "Interface to bind (embedded server only).")
    flag("rest_api_max_request_bytes", int,
         "Largest REST request body in bytes; larger ones get 413 before they are read "
         "(embedded server only; 0: no limit).")
    flag("max_concurrent_requests", int,
         "Predict requests in flight at once over REST and gRPC; more get 503 / UNAVAILABLE at once "
         "(embedded server only; 0: no limit).")


_DESCRIPTION = "Serve SavedModels with TensorFlow Serving's REST and gRPC APIs."


def add_parser(subparsers):
    p = subparsers.add_parser("serve", help="serve SavedModels over TF Serving's REST and gRPC APIs (its flags)",
                              description=_DESCRIPTION, allow_abbrev=False)
    _add_flags(p)
    p.set_defaults(run=run)


def build_parser():
    """The parser of `keras-gans serve`'s flags alone (TF Serving's, plus the embedded ones)."""
    p = argparse.ArgumentParser(prog="keras-gans serve", description=_DESCRIPTION, allow_abbrev=False)
    _add_flags(p)
    return p


def binary_argv(args):
    """`argv` for tensorflow_model_server: the flags given as `--name=value`, embedded-only ones dropped."""
    out = [BINARY]
    defaults = vars(build_parser().parse_args([]))
    for name, default in defaults.items():
        value = getattr(args, name)
        if name in _EMBEDDED_ONLY or value is None or value == default:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append(f"--{name}={value}")
    return out


def run(args):
    from keras_gans.serving import server

    # TF Serving requires absolute base paths; resolve the command line's here.
    if args.model_base_path and "://" not in args.model_base_path:
        args.model_base_path = os.path.abspath(args.model_base_path)
    binary = shutil.which(BINARY)
    if binary and not args.embedded:
        if args.host != "0.0.0.0":
            print(f"keras-gans serve: {BINARY} binds every interface; --host is ignored", file=sys.stderr)
        defaults = server.ServerOptions()
        for name in ("rest_api_max_request_bytes", "max_concurrent_requests"):
            if getattr(args, name) != getattr(defaults, name):
                print(f"keras-gans serve: {BINARY} has no --{name}; it is ignored", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(binary, binary_argv(args))
    options = server.ServerOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(server.ServerOptions)})
    return server.run_embedded(options)
