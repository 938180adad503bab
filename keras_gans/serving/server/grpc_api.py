"""TF Serving's gRPC API on grpcio, with the stubs of `tensorflow-serving-api`.

`PredictionService` (Predict, GetModelMetadata) and `ModelService`
(GetModelStatus, HandleReloadConfigRequest) answer like TF Serving: the
canonical status code of every failure, messages over 1024 characters cut to
1024 plus `...TRUNCATED` (`grpc_status_util.cc`), outputs in the typed fields
of `TensorProto` (`float_val`, `int_val`, ...) unless the server runs with
`--enable_serialization_as_tensor_content`.

Example:
    server = create_grpc_server(core, port=8500)
    server.start()
"""

from concurrent import futures

import grpc
import numpy as np

from keras_gans import contract
from keras_gans.serving.errors import ServingError
from keras_gans.serving.server import json_tensor as jt

_MAX_MESSAGE = 1024

_TYPED_FIELD = {
    jt.DT_FLOAT: "float_val",
    jt.DT_DOUBLE: "double_val",
    jt.DT_INT32: "int_val",
    jt.DT_UINT8: "int_val",
    jt.DT_INT16: "int_val",
    jt.DT_INT8: "int_val",
    jt.DT_UINT16: "int_val",
    jt.DT_INT64: "int64_val",
    jt.DT_BOOL: "bool_val",
    jt.DT_UINT32: "uint32_val",
    jt.DT_UINT64: "uint64_val",
}


def tensor_proto(array, dtype, as_content=False):
    """A `TensorProto` of `array` as TF Serving writes outputs.

    Args:
        array: the NumPy value.
        dtype: its DataType enum value (the signature's output dtype).
        as_content: write the raw bytes in `tensor_content` instead of the
            typed repeated field (strings always use `string_val`).
    """
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2

    array = np.asarray(array)
    proto = tensor_pb2.TensorProto(dtype=dtype)
    proto.tensor_shape.CopyFrom(
        tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in array.shape])
    )
    flat = array.reshape(-1)
    if dtype == jt.DT_STRING:
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode("utf-8") for v in flat.tolist())
    elif as_content:
        proto.tensor_content = np.ascontiguousarray(flat.astype(jt.NUMPY_DTYPES[dtype], copy=False)).tobytes()
    elif dtype == jt.DT_HALF:
        proto.half_val.extend(flat.astype(np.float16).view(np.uint16).tolist())
    elif dtype in _TYPED_FIELD:
        getattr(proto, _TYPED_FIELD[dtype]).extend(flat.tolist())
    else:
        raise ServingError("INTERNAL", f"Cannot write a tensor of type {jt.dtype_name(dtype)}")
    return proto


def _abort(context, error):
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "...TRUNCATED"
    context.abort(grpc.StatusCode[error.code], message)


def _servicers():
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
        """`tensorflow.serving.PredictionService` over a `ServingCore`."""

        def __init__(self, core, tensor_content=False):
            self.core = core
            self.tensor_content = tensor_content

        def Predict(self, request, context):
            from tensorflow_serving.apis import predict_pb2

            try:
                servable, signature_name, outputs = self.core.predict(request)
                signature = servable.signature_defs[signature_name]
                response = predict_pb2.PredictResponse()
                response.model_spec.name = request.model_spec.name
                response.model_spec.signature_name = signature_name
                response.model_spec.version.value = servable.version
                for alias, value in outputs.items():
                    response.outputs[alias].CopyFrom(
                        tensor_proto(value, signature.outputs[alias].dtype, self.tensor_content)
                    )
                return response
            except ServingError as e:
                _abort(context, e)

        def GetModelMetadata(self, request, context):
            try:
                return self.core.get_model_metadata(request)
            except ServingError as e:
                _abort(context, e)

        def _not_a_predict_api(self, request, context, kind):
            try:
                if not request.HasField("model_spec"):
                    raise ServingError("INVALID_ARGUMENT", "Missing ModelSpec")
                servable = self.core.servable_for(request.model_spec)
                key = request.model_spec.signature_name or contract.SERVING_DEFAULT
                signature = servable.signature_defs.get(key)
                if signature is None:
                    raise ServingError("INVALID_ARGUMENT", f"No signature was found with the name: {key}")
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"Expected {kind} signature method_name to be tensorflow/serving/"
                    f"{'classify' if kind == 'classification' else 'regress'}. Was: {signature.method_name}",
                )
            except ServingError as e:
                _abort(context, e)

        def Classify(self, request, context):
            self._not_a_predict_api(request, context, "classification")

        def Regress(self, request, context):
            self._not_a_predict_api(request, context, "regression")

        def MultiInference(self, request, context):
            _abort(context, ServingError("UNIMPLEMENTED", "MultiInference is not supported by the embedded server"))

    class ModelService(model_service_pb2_grpc.ModelServiceServicer):
        """`tensorflow.serving.ModelService` over a `ServingCore`."""

        def __init__(self, core):
            self.core = core

        def GetModelStatus(self, request, context):
            try:
                return self.core.get_model_status(request)
            except ServingError as e:
                _abort(context, e)

        def HandleReloadConfigRequest(self, request, context):
            from tensorflow_serving.apis import model_management_pb2
            from tensorflow_serving.config import model_server_config_pb2

            response = model_management_pb2.ReloadConfigResponse()
            try:
                config = model_server_config_pb2.ModelServerConfig()
                config.CopyFrom(request.config)
                self.core.manager.set_config(config)
                self.core.manager.poll()
            except ServingError as e:
                response.status.error_code = grpc.StatusCode[e.code].value[0]
                response.status.error_message = e.message
            return response

    return PredictionService, ModelService


def create_grpc_server(core, port, host="0.0.0.0", max_threads=None, tensor_content=False):
    """A grpcio server exposing `core` on `host:port` (not started).

    Args:
        core: the `ServingCore`.
        port: TCP port.
        host: interface to bind (TF Serving binds every interface).
        max_threads: worker threads (`--grpc_max_threads`).
        tensor_content: write outputs as `tensor_content` bytes.
    """
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    PredictionService, ModelService = _servicers()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_threads or 16, thread_name_prefix="grpc"),
        # TF Serving accepts and sends messages of any size.
        options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(core, tensor_content=tensor_content), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(core), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"Could not bind the gRPC server to {host}:{port}")
    return server
