"""The server process: `ServerOptions` (TF Serving's flags) and `run_embedded`.

`run_embedded` builds what `tensorflow_model_server`'s main does: the model manager
(`manager`), the request logic (`core`), and the gRPC (`grpc_api`) and REST (`rest`) front
ends, then serves until SIGINT/SIGTERM. `keras-gans serve` (keras_gans/cli/serve.py)
parses `tensorflow_model_server`'s flags and execs that binary when it is on PATH, or
calls `run_embedded`.

Example:
    from keras_gans.serving import server

    server.run_embedded(server.ServerOptions(model_name="dcgan", model_base_path="/abs/saved_models/dcgan",
                                             rest_api_port=8501))
"""

import logging
import signal
import sys
import threading

from keras_gans.serving.server.options import ServerOptions

__all__ = ["ServerOptions", "run_embedded"]

log = logging.getLogger("keras_gans.serving")


def _session_config(options):
    import tensorflow as tf

    config = tf.compat.v1.ConfigProto()
    intra = options.tensorflow_intra_op_parallelism or options.tensorflow_session_parallelism
    inter = options.tensorflow_inter_op_parallelism or options.tensorflow_session_parallelism
    if intra:
        config.intra_op_parallelism_threads = intra
    if inter:
        config.inter_op_parallelism_threads = inter
    return config


def run_embedded(options):
    """Runs the embedded server until SIGINT/SIGTERM.

    Args:
        options: a `ServerOptions` (or any object with its attributes, e.g. parsed flags).

    Returns:
        The exit status: 0 after a clean stop, 2 for a configuration it cannot serve.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from keras_gans.serving.errors import ServingError
    from keras_gans.serving.server import config as config_lib
    from keras_gans.serving.server.core import ServingCore
    from keras_gans.serving.server.manager import ModelManager

    if options.version:
        import keras_gans

        print(f"keras-gans embedded model server {keras_gans.__version__} (TF Serving protocol)")
        return 0
    try:
        if options.model_config_file:
            model_config = config_lib.read_model_config_file(options.model_config_file)
        elif options.model_base_path:
            model_config = config_lib.single_model_config(options.model_name, options.model_base_path)
        else:
            print(
                "Both --model_base_path and --model_config_file are empty: nothing to serve.",
                file=sys.stderr,
            )
            return 2
        batching = config_lib.batching_config(
            options.enable_batching,
            options.batching_parameters_file,
            per_model=options.enable_per_model_batching_parameters,
        )
    except ServingError as e:
        print(f"keras-gans serve: {e.message}", file=sys.stderr)
        return 2
    if options.port and options.port == options.rest_api_port:
        print("--rest_api_port must differ from --port", file=sys.stderr)
        return 2
    from keras_gans.serving.server.grpc_api import parse_channel_arguments

    try:
        channel_arguments = parse_channel_arguments(options.grpc_channel_arguments)
    except ValueError as e:
        print(f"keras-gans serve: {e}", file=sys.stderr)
        return 2

    manager = ModelManager(
        _session_config(options), tags=[t for t in options.saved_model_tags.split(",") if t], batching=batching
    )
    manager.set_config(model_config)
    manager.poll()  # Like TF Serving, load what is there before accepting requests.
    core = ServingCore(manager, batching=batching)  # Batching stops with manager.stop().

    stop = threading.Event()
    # One budget of requests in flight for both front ends: they share the models.
    limit = options.max_concurrent_requests
    slots = threading.BoundedSemaphore(limit) if limit else None
    grpc_server = None
    if options.port:
        from keras_gans.serving.server.grpc_api import create_grpc_server

        grpc_server = create_grpc_server(
            core,
            options.port,
            host=options.host,
            max_threads=options.grpc_max_threads or None,
            tensor_content=options.enable_serialization_as_tensor_content,
            channel_arguments=channel_arguments,
            max_concurrent_requests=limit,
            slots=slots,
        )
        grpc_server.start()
        log.info("Running gRPC ModelServer at %s:%d ...", options.host, options.port)
    manager.start_polling(
        options.file_system_poll_wait_seconds,
        config_file=options.model_config_file or None,
        config_poll_wait_seconds=options.model_config_file_poll_wait_seconds,
    )
    # SIGINT/SIGTERM end the serving loop below, then the clean stop runs. uvicorn
    # re-raises the signal that stopped it once it has shut down: with these handlers in
    # place that re-raise lands here, rather than in the default handler, which would kill
    # the process before `finally`.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if options.rest_api_port:
            import uvicorn

            from keras_gans.serving.server.rest import create_app

            app = create_app(
                core,
                enable_cors=options.rest_api_enable_cors_support,
                max_request_bytes=options.rest_api_max_request_bytes,
                max_concurrent_requests=limit,
                slots=slots,
                num_threads=options.rest_api_num_threads,
            )
            server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    host=options.host,
                    port=options.rest_api_port,
                    log_level="warning",
                    access_log=False,
                    lifespan="off",
                    # httptools and uvloop (both dependencies) when importable: C
                    # parsers and loop, ~0.4 ms less server CPU per 1-sample request than h11 on asyncio (benchmarks/serving_latency.py).
                    http="auto",
                    loop="auto",
                    # No proxy in front: X-Forwarded-* headers mean nothing here, and
                    # reading them costs every request.
                    proxy_headers=False,
                )
            )
            log.info("Exporting HTTP/REST API at:%s:%d ...", options.host, options.rest_api_port)
            server.run()  # Returns on SIGINT / SIGTERM.
        else:
            stop.wait()
    finally:
        manager.stop()
        if grpc_server is not None:
            grpc_server.stop(grace=2).wait()
    return 0
