"""`ServerOptions`: the flags of the embedded server, TF Serving's under their names.

Its own module so that the front ends (`rest`, `grpc_api`) read the defaults without
importing the process (`main`), which builds them.
"""

import dataclasses

from keras_gans import contract


@dataclasses.dataclass
class ServerOptions:
    """What the embedded server serves and how: TF Serving's flags of the same names.

    Attributes:
        port: TCP port of the gRPC API (0 disables it).
        rest_api_port: TCP port of the REST API (0 disables it).
        model_config_file: a ModelServerConfig text proto listing the models.
        model_config_file_poll_wait_seconds: seconds between re-reads of that file (0: once).
        model_name, model_base_path: the one model served without a config file (an
            absolute path, as TF Serving requires).
        file_system_poll_wait_seconds: seconds between polls of the base paths (0: once).
        rest_api_enable_cors_support: add CORS headers to REST answers.
        enable_batching, batching_parameters_file, enable_per_model_batching_parameters:
            batch concurrent Predict requests as TF Serving's batching session does, with
            the server's parameters or each version's `batching_params.pbtxt`.
        tensorflow_session_parallelism, tensorflow_intra_op_parallelism,
        tensorflow_inter_op_parallelism: session thread pools (0: TensorFlow's choice).
        saved_model_tags: comma-separated meta graph tags to load.
        grpc_max_threads: gRPC worker threads (0: one per request in flight, at
            least 16).
        grpc_channel_arguments: "key=value,key=value" grpc server options, as TF
            Serving passes them (an int32-looking value as an int). The embedded
            server's defaults, which they override: `grpc.max_receive_message_length`
            32 MiB (TF Serving: 2 GiB - 1), `grpc.max_send_message_length` 2 GiB - 1
            (TF Serving's). A larger message gets RESOURCE_EXHAUSTED from grpc,
            unparsed.
        rest_api_num_threads: REST worker threads parsing, running and encoding
            requests (0: one per request in flight, at least four per CPU, TF
            Serving's default).
        enable_serialization_as_tensor_content: gRPC outputs as tensor_content bytes.
        version: print the version and return.

    The embedded server only (`tensorflow_model_server` has no such flags):
        host: the interface to bind.
        rest_api_max_request_bytes: the largest REST request body (default 32 MiB,
            a hundred times a 256 x 100 float z in JSON; 0: no limit). A larger
            one gets 413 `{"error": ...}` (canonical code RESOURCE_EXHAUSTED) from
            its Content-Length, or once a chunked body passes the limit, before
            anything is parsed; the connection is then closed.
        max_concurrent_requests: Predict requests in flight at once, REST and
            gRPC together (default 32; 0: no limit). One more gets 503 / UNAVAILABLE
            `{"error": ...}` at once, never a queue; status and metadata requests
            are not counted.
    """

    port: int = 8500
    rest_api_port: int = 0
    model_config_file: str = ""
    model_config_file_poll_wait_seconds: int = 0
    model_name: str = "default"
    model_base_path: str = ""
    file_system_poll_wait_seconds: int = 1
    rest_api_enable_cors_support: bool = False
    enable_batching: bool = False
    batching_parameters_file: str = ""
    enable_per_model_batching_parameters: bool = False
    tensorflow_session_parallelism: int = 0
    tensorflow_intra_op_parallelism: int = 0
    tensorflow_inter_op_parallelism: int = 0
    saved_model_tags: str = contract.SERVE_TAG
    grpc_max_threads: int = 0
    grpc_channel_arguments: str = ""
    rest_api_num_threads: int = 0
    enable_serialization_as_tensor_content: bool = False
    version: bool = False
    host: str = "0.0.0.0"
    rest_api_max_request_bytes: int = 32 * 2**20
    max_concurrent_requests: int = 32
