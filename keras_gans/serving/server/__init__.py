"""The embedded model server: TensorFlow Serving's protocol, for machines without its binary.

It serves the same REST API (an ASGI app on uvicorn) and gRPC API (grpcio,
`tensorflow-serving-api` stubs) as `tensorflow_model_server`: several models and versions,
the latest served by default, base paths polled for new and removed versions. It loads
SavedModels only (any SavedModel, not just generators), with the TF1 loader TF Serving's
C++ code mirrors. `ServerOptions` holds the TF Serving flags it honours, under their flag
names and with TF Serving's defaults. With `enable_batching` it batches requests as TF
Serving's batching session does: concurrent Predict calls of one servable merge into one
model call (`batching`), and a signature TF Serving could not batch fails here too.

One module per role, after TF Serving's own files:

- `options`: `ServerOptions`, the flags (exported here).
- `main`: `run_embedded`, the process (exported here).
- `manager`: loads, serves and retires model versions (`ServerCore`, the version policies).
- `core`: Predict, GetModelStatus and GetModelMetadata, shared by both front ends.
- `batching`: the shared batch scheduler and batching session (`--enable_batching`).
- `rest`, `grpc_api`: the REST and gRPC front ends.
- `json_tensor`: the REST JSON formats.
- `config`: `models.config` and `batching_parameters.txt` (also `keras-gans serving-config`).

The canonical error codes (`keras_gans.serving.errors`) are shared with the client and stay
beside it; importing this package loads neither TensorFlow nor grpc until a server is built.

Example:
    from keras_gans.serving import server

    server.run_embedded(server.ServerOptions(model_name="dcgan", model_base_path="/abs/saved_models/dcgan",
                                             rest_api_port=8501))

    keras-gans serve --embedded --model_name dcgan --model_base_path saved_models/dcgan --rest_api_port 8501
"""

from keras_gans.serving.server.main import run_embedded
from keras_gans.serving.server.options import ServerOptions

__all__ = ["ServerOptions", "run_embedded"]
