"""TF Serving's gRPC API on grpcio, with the stubs of `tensorflow-serving-api`.

`PredictionService` (Predict, GetModelMetadata) and `ModelService`
(GetModelStatus, HandleReloadConfigRequest) answer like TF Serving: the
canonical status code of every failure, messages over 1024 characters cut to
1024 plus `...TRUNCATED` (`grpc_status_util.cc`), outputs in the typed fields
of `TensorProto` (`float_val`, `int_val`, ...) unless the server runs with
`--enable_serialization_as_tensor_content`.

Limits: messages received are capped (`grpc.max_receive_message_length`, 32 MiB
unless `--grpc_channel_arguments` sets it): grpc refuses a larger one with
RESOURCE_EXHAUSTED before it is parsed. A Predict finding every request slot taken
(`--max_concurrent_requests`, shared with the REST front end) gets UNAVAILABLE at
once; one whose deadline has passed, or whose caller has gone, is not run
(DEADLINE_EXCEEDED, CANCELLED). RPCs wait for a worker thread in a bounded queue:
past `grpc_max_threads` + `max_concurrent_requests` RPCs at once, grpc answers
RESOURCE_EXHAUSTED, as TF Serving does when its thread quota is used up.

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
DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH = 32 * 2**20  # see ServerOptions.grpc_channel_arguments
# TF Serving's `builder.SetMaxMessageSize(INT32_MAX)` (model_servers/server.cc).
_TF_SERVING_MAX_MESSAGE_SIZE = 2**31 - 1

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
    jt.DT_HALF: "half_val",
    jt.DT_UINT32: "uint32_val",
    jt.DT_UINT64: "uint64_val",
}
# Field numbers of the wire format (tensor.proto, predict.proto), fixed by protobuf's
# compatibility rules; tests/test_serving_limits.py checks them against the descriptors.
_FIELD_NUMBER = {
    "float_val": 5, "double_val": 6, "int_val": 7, "int64_val": 10, "bool_val": 11,
    "half_val": 13, "uint32_val": 16, "uint64_val": 17,
}
_OUTPUTS_FIELD = 1  # PredictResponse.outputs (model_spec is 2)


def tensor_proto(array, dtype, as_content=False):
    """A `TensorProto` of `array` as TF Serving writes outputs (see `tensor_proto_bytes`)."""
    from tensorflow.core.framework import tensor_pb2

    return tensor_pb2.TensorProto.FromString(tensor_proto_bytes(array, dtype, as_content))


def tensor_proto_bytes(array, dtype, as_content=False):
    """The serialized `TensorProto` of `array` as TF Serving writes outputs.

    The typed repeated field is written as its packed wire bytes, which NumPy builds,
    after the small dtype-and-shape part that protobuf serializes: for 256 28x28 uint8
    images that takes ~0.4 ms, where filling the field in a proto and serializing it
    took ~4 ms and extending it value by value ~8 ms. Protobuf reads the concatenation
    of two serialized parts of a message as the message with both.

    Args:
        array: the NumPy value.
        dtype: its DataType enum value (the signature's output dtype).
        as_content: write the raw bytes in `tensor_content` instead of the
            typed repeated field (strings always use `string_val`).
    """
    from tensorflow.core.framework import tensor_pb2

    array = np.asarray(array)
    head = tensor_pb2.TensorProto(dtype=dtype)
    head.tensor_shape.SetInParent()  # a scalar's empty shape is written too, as TF Serving does
    for size in array.shape:
        head.tensor_shape.dim.add(size=size)
    flat = array.reshape(-1)
    if dtype == jt.DT_STRING:
        head.string_val.extend(v if isinstance(v, bytes) else str(v).encode("utf-8") for v in flat.tolist())
        return head.SerializeToString()
    if as_content:
        head.tensor_content = np.ascontiguousarray(flat.astype(jt.NUMPY_DTYPES[dtype], copy=False)).tobytes()
        return head.SerializeToString()
    if dtype not in _TYPED_FIELD:
        raise ServingError("INTERNAL", f"Cannot write a tensor of type {jt.dtype_name(dtype)}")
    payload = _field_bytes(flat, dtype)
    body = head.SerializeToString()
    if not payload:
        return body  # proto3 writes no empty packed field
    return body + _packed(_FIELD_NUMBER[_TYPED_FIELD[dtype]], payload)


def predict_response_bytes(model_spec, outputs):
    """A serialized `PredictResponse`: `model_spec`, then {alias: serialized TensorProto}.

    Each output is a map entry (key 1, value 2) of field `outputs`, written around the
    tensor's bytes without parsing them again.
    """
    from tensorflow_serving.apis import predict_pb2

    out = [predict_pb2.PredictResponse(model_spec=model_spec).SerializeToString()]
    for alias, tensor in outputs.items():
        entry = _packed(1, alias.encode("utf-8")) + _packed(2, tensor)
        out.append(_packed(_OUTPUTS_FIELD, entry))
    return b"".join(out)


def _field_bytes(flat, dtype):
    """The packed payload of `flat` in the typed field of `dtype`."""
    if dtype == jt.DT_FLOAT:
        return flat.astype("<f4").tobytes()
    if dtype == jt.DT_DOUBLE:
        return flat.astype("<f8").tobytes()
    if dtype == jt.DT_HALF:
        return _varints(flat.astype(np.float16).view(np.uint16))
    values = flat.astype(jt.NUMPY_DTYPES[dtype], copy=False)
    if values.dtype.kind == "b":
        return _varints(values.view(np.uint8))
    if values.dtype.kind == "i":
        if values.size and values.min() < 0:
            # Negative values are 64-bit two's complement on the wire (10 bytes).
            return _varints(values.astype(np.int64).view(np.uint64))
        values = values.view(f"u{values.dtype.itemsize}")
    return _varints(values)


def _varints(values):
    """Protobuf base-128 varints of the unsigned integer array `values`, concatenated.

    Every value takes as many bytes as the largest needs (0 as `80 80 00` beside a
    value of three groups): protobuf parsers read such varints as any other, and the
    proto they fill serializes canonically. One reshape instead of a variable-length
    layout: for 256 28x28 uint8 images ~0.3 ms instead of ~5.
    """
    if not values.size:
        return b""
    top = int(values.max())
    if top < 0x80:
        return values.astype(np.uint8).tobytes()
    groups = (top.bit_length() + 6) // 7
    kind = values.dtype.type
    out = np.empty((values.size, groups), np.uint8)
    rest = values.copy()
    for g in range(groups):
        out[:, g] = rest & kind(0x7F)
        rest >>= kind(7)
    out[:, :-1] |= 0x80
    return out.tobytes()


def _packed(number, payload):
    """A length-delimited field: tag, length, payload."""
    return _varint_bytes((number << 3) | 2) + _varint_bytes(len(payload)) + payload


def _varint_bytes(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def parse_channel_arguments(text):
    """`--grpc_channel_arguments` ("key=value,key=value") as grpc server options.

    As TF Serving's `parseGrpcChannelArgs` and its use in model_servers/server.cc:
    a value that reads as an int32 is passed as an int, any other as a string.

    Raises:
        ValueError: an argument without `=`.
    """
    options = []
    for argument in text.split(",") if text else []:
        key, sep, value = argument.partition("=")
        if not sep or not key:
            raise ValueError(f"--grpc_channel_arguments: expected key=value, got {argument!r}")
        try:
            number = int(value)
            options.append((key, number if -(2**31) <= number < 2**31 else value))
        except ValueError:
            options.append((key, value))
    return options


def _abort(context, error):
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "...TRUNCATED"
    context.abort(grpc.StatusCode[error.code], message)


def _servicers():
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
        """`tensorflow.serving.PredictionService` over a `ServingCore`."""

        def __init__(self, core, tensor_content=False, slots=None, max_concurrent_requests=0):
            self.core = core
            self.tensor_content = tensor_content
            self.slots = slots
            self.max_concurrent_requests = max_concurrent_requests

        def Predict(self, request, context):
            try:
                self._check_caller(context)
                if self.slots is not None and not self.slots.acquire(blocking=False):
                    raise ServingError(
                        "UNAVAILABLE",
                        f"The server already has {self.max_concurrent_requests} requests in flight "
                        "(--max_concurrent_requests); try again later",
                    )
                try:
                    self._check_caller(context)
                    return self._predict(request)
                finally:
                    if self.slots is not None:
                        self.slots.release()
            except ServingError as e:
                _abort(context, e)

        @staticmethod
        def _check_caller(context):
            """Nothing is run for a caller whose deadline has passed or who has gone."""
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                raise ServingError("DEADLINE_EXCEEDED", "Deadline exceeded before the request was run")
            if not context.is_active():
                raise ServingError("CANCELLED", "The caller cancelled the request before it was run")

        def _predict(self, request):
            """The serialized `PredictResponse` (see `_pass_bytes`)."""
            from tensorflow_serving.apis import model_pb2

            servable, signature_name, outputs = self.core.predict(request)
            signature = servable.signature_defs[signature_name]
            spec = model_pb2.ModelSpec(name=request.model_spec.name, signature_name=signature_name)
            spec.version.value = servable.version
            return predict_response_bytes(spec, {
                alias: tensor_proto_bytes(value, signature.outputs[alias].dtype, self.tensor_content)
                for alias, value in outputs.items()
            })

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


def _serialize(response):
    """Responses already serialized (`Predict`'s) go out as they are."""
    return response if isinstance(response, bytes) else response.SerializeToString()


def _prediction_handlers(servicer):
    """`tensorflow.serving.PredictionService` as the generated stubs' registration makes
    it, with `_serialize` as every method's response serializer."""
    from tensorflow_serving.apis import prediction_service_pb2

    service = prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"]
    handlers = {
        method.name: grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method.name),
            request_deserializer=_message_class(method.input_type).FromString,
            response_serializer=_serialize,
        )
        for method in service.methods
    }
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def _message_class(descriptor):
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)


def create_grpc_server(core, port, host="0.0.0.0", max_threads=None, tensor_content=False,
                       channel_arguments=(), max_concurrent_requests=None, slots=None):
    """A grpcio server exposing `core` on `host:port` (not started).

    Args:
        core: the `ServingCore`.
        port: TCP port.
        host: interface to bind (TF Serving binds every interface).
        max_threads: worker threads (`--grpc_max_threads`; default: one per
            request in flight, at least 16).
        tensor_content: write outputs as `tensor_content` bytes.
        channel_arguments: grpc options, e.g. `parse_channel_arguments(...)` of
            `--grpc_channel_arguments`; they override the defaults
            (`grpc.max_receive_message_length` = `DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH`,
            `grpc.max_send_message_length` = 2**31 - 1, TF Serving's).
        max_concurrent_requests: Predict calls in flight at once
            (`--max_concurrent_requests`; None: its default, 32; 0: no limit); one
            more gets UNAVAILABLE.
        slots: a `threading.Semaphore` of those requests' slots, shared with the
            REST front end; made from `max_concurrent_requests` when None.
    """
    import threading

    from tensorflow_serving.apis import model_service_pb2_grpc

    from keras_gans.serving.server.options import ServerOptions

    if max_concurrent_requests is None:
        max_concurrent_requests = ServerOptions.max_concurrent_requests
    if slots is None and max_concurrent_requests:
        slots = threading.BoundedSemaphore(max_concurrent_requests)
    options = dict([
        ("grpc.max_receive_message_length", DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH),
        ("grpc.max_send_message_length", _TF_SERVING_MAX_MESSAGE_SIZE),
    ])
    options.update(channel_arguments)
    workers = max_threads or max(16, max_concurrent_requests)
    PredictionService, ModelService = _servicers()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        options=list(options.items()),
        # RPCs wait for a worker in a bounded queue; beyond it grpc answers RESOURCE_EXHAUSTED.
        maximum_concurrent_rpcs=workers + max_concurrent_requests if max_concurrent_requests else None,
    )
    server.add_generic_rpc_handlers([_prediction_handlers(
        PredictionService(core, tensor_content=tensor_content, slots=slots,
                          max_concurrent_requests=max_concurrent_requests)
    )])
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(core), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"Could not bind the gRPC server to {host}:{port}")
    return server
