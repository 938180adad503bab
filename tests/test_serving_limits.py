"""The embedded server cannot be exhausted: body and message limits, a cap on requests in
flight, deadlines; and the fast JSON and TensorProto paths give exactly the old answers.

One server process (`keras-gans serve --embedded` on loopback) runs with tiny limits: REST
bodies of at most 4 KiB, gRPC messages of at most 4 KiB, one request in flight, one gRPC
worker thread. Besides a tiny DCGAN it serves `gate`, a SavedModel whose `hold` signature
writes to two named pipes in turn: a request to it is inside the model call once the test
reads the first pipe, and stays there until the test opens the second one, so a slot is
held for exactly as long as a test needs, without sleeps.
"""

import os
import select
import socket
import threading
import time

import grpc
import numpy as np
import orjson
import pytest
import requests
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

import keras_gans as kg
from keras_gans import export
from keras_gans.cli import serve
from keras_gans.serving import Client, ServingError
from keras_gans.serving.server import ServerOptions
from keras_gans.serving.server import config as config_lib
from keras_gans.serving.server import grpc_api
from keras_gans.serving.server import json_tensor as jt
from tests.test_serving import JSON, LIMIT, TINY, Served, _free_port, _predict_request, _running, _server_log, _start_server

MAX_BYTES = 4096
SAMPLE = {"signature_name": "sample", "inputs": {"num_samples": 2, "seed": 1}}


class Gate(tf.Module):
    """`hold(entered, gate)` writes to the pipe `entered`, then to the pipe `gate`;
    `touch(path)` writes a file (to see whether a request ran)."""

    @tf.function(input_signature=[tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string)])
    def hold(self, entered, gate):
        tf.io.write_file(entered, "in")
        tf.io.write_file(gate, "out")  # Blocks until the test opens the pipe.
        return {"done": tf.constant([1])}

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def touch(self, path):
        tf.io.write_file(path, "ran")
        return {"done": tf.constant([1])}


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    srv = Served(root, _free_port(), _free_port())
    export.export_generator(kg.models.DCGAN(**TINY, seed=2), srv.models / "dcgan", max_num_samples=LIMIT)
    gate = Gate()
    tf.saved_model.save(gate, str(srv.models / "gate" / "1"), signatures={"hold": gate.hold, "touch": gate.touch})
    config_path = root / "models.config"
    config_lib.write_models_config(srv.models, config_path, base_path_prefix=None)
    process, log = _start_server(
        srv, config_path, root / "server.log",
        f"--rest_api_max_request_bytes={MAX_BYTES}",
        f"--grpc_channel_arguments=grpc.max_receive_message_length={MAX_BYTES}",
        "--max_concurrent_requests=1",
        "--grpc_max_threads=1",
    )
    srv.process = process
    with _running(srv, process, log, ("dcgan", "gate")):
        yield srv


def _serves(srv):
    """The server answers a REST and a gRPC sample request (it kept serving)."""
    answer = srv.post("/v1/models/dcgan:predict", SAMPLE)
    assert answer.status_code == 200, answer.text
    assert np.asarray(answer.json()["outputs"]).shape == (2, 28, 28, 1)
    reply = srv.predictions.Predict(_predict_request("dcgan", "sample", num_samples=2, seed=1), timeout=60)
    assert reply.outputs["images"].tensor_shape.dim[0].size == 2


def _rss_bytes(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _raw_http(srv, head, body=b"", timeout=10):
    """Sends `head` (+ `body`) on a fresh connection; returns (status, headers, body) once answered."""
    host, port = srv.rest[len("http://"):].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        header_text, rest = data.split(b"\r\n\r\n", 1)
        lines = header_text.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        length = int(headers.get("content-length", 0))
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk
            rest += chunk
        return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, rest[:length]


def _json_error(status, headers, body, code):
    assert status == code, body
    assert headers["content-type"] == JSON
    payload = orjson.loads(body)
    assert list(payload) == ["error"]
    return payload["error"]


# ----------------------------------------------------------------------------------
# REST bodies over --rest_api_max_request_bytes: 413 before they are read.
# ----------------------------------------------------------------------------------
def test_a_120_mb_body_declared_by_content_length_is_refused_before_it_is_sent(limited):
    path = "/v1/models/dcgan:predict"
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {120 * 2**20}\r\n\r\n").encode()
    rss = _rss_bytes(limited.process.pid)
    start = time.monotonic()
    status, headers, body = _raw_http(limited, head, b'{"instances": [0, ')
    took = time.monotonic() - start
    message = _json_error(status, headers, body, 413)
    assert message == (f"Request body of {120 * 2**20} bytes exceeds the limit of {MAX_BYTES} bytes "
                       "(--rest_api_max_request_bytes)")
    assert headers["connection"] == "close"  # the rest of the body is never read
    assert took < 0.5
    assert _rss_bytes(limited.process.pid) - rss < 100 * 2**20
    _serves(limited)


def test_a_body_over_the_limit_is_refused_with_the_json_error(limited):
    z = np.zeros([MAX_BYTES // 4, 4], np.float32)
    answer = limited.post("/v1/models/dcgan:predict", {"instances": z.tolist()})
    assert answer.status_code == 413 and answer.headers["content-type"] == JSON
    assert "exceeds the limit of 4096 bytes" in answer.json()["error"]
    with pytest.raises(ServingError) as info:
        Client(limited.rest).predict("dcgan", z)
    assert info.value.code == "RESOURCE_EXHAUSTED" and info.value.http_status == 413
    # A body just under the limit is read and answered.
    small = {"instances": [[0, 0, 0, 0]] * 8}
    assert len(orjson.dumps(small)) < MAX_BYTES
    assert limited.post("/v1/models/dcgan:predict", small).status_code == 200
    _serves(limited)


def test_a_chunked_body_is_refused_once_it_passes_the_limit(limited):
    head = (b"POST /v1/models/dcgan:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"[0, 0, 0, 0], " * 400  # 5600 bytes; the body is never finished
    status, headers, body = _raw_http(limited, head, b"%x\r\n%s\r\n" % (len(chunk), chunk))
    message = _json_error(status, headers, body, 413)
    assert message == f"Request body exceeds the limit of {MAX_BYTES} bytes (--rest_api_max_request_bytes)"
    assert headers["connection"] == "close"
    # A chunked body under the limit is fine.
    def small():
        yield b'{"instances": '
        yield b"[[0, 0, 0, 0]]}"
    assert requests.post(limited.rest + "/v1/models/dcgan:predict", data=small(), timeout=60).status_code == 200
    _serves(limited)


@pytest.mark.slow
def test_a_120_mb_body_sent_whole_is_refused_quickly_and_costs_no_memory(limited):
    rss = _rss_bytes(limited.process.pid)
    body = b'{"instances": [' + b"0, " * (40 * 2**20)  # built before the clock starts: it is the client's time
    start = time.monotonic()
    answer = requests.post(limited.rest + "/v1/models/dcgan:predict", data=body, timeout=60)
    took = time.monotonic() - start
    assert answer.status_code == 413 and "exceeds the limit" in answer.json()["error"]
    assert took < 1.0
    assert _rss_bytes(limited.process.pid) - rss < 100 * 2**20
    _serves(limited)


# ----------------------------------------------------------------------------------
# gRPC messages over grpc.max_receive_message_length: RESOURCE_EXHAUSTED, unparsed.
# ----------------------------------------------------------------------------------
def test_a_grpc_message_over_the_limit_is_resource_exhausted(limited):
    request = _predict_request("dcgan", "", z=np.zeros([MAX_BYTES // 8, 4], np.float32))
    assert request.ByteSize() > MAX_BYTES
    with pytest.raises(grpc.RpcError) as info:
        limited.predictions.Predict(request, timeout=60)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in info.value.details()
    small = _predict_request("dcgan", "", z=np.zeros([4, 4], np.float32))
    assert limited.predictions.Predict(small, timeout=60).outputs["images"].tensor_shape.dim[0].size == 4
    _serves(limited)


# ----------------------------------------------------------------------------------
# --max_concurrent_requests: 503 / UNAVAILABLE at once, never a queue.
# ----------------------------------------------------------------------------------
class Held:
    """A `hold` request inside the model call until `release()`."""

    def __init__(self, srv, tmp_path, send):
        self.entered, self.gate = str(tmp_path / "entered"), str(tmp_path / "gate")
        os.mkfifo(self.entered)
        os.mkfifo(self.gate)
        # Opened without blocking; the model's write to `entered` then returns at once.
        self.entered_fd = os.open(self.entered, os.O_RDONLY | os.O_NONBLOCK)
        self.gate_fd = None
        self.result = {}

        def run():
            try:
                self.result["answer"] = send(self.entered, self.gate)
            except Exception as e:  # noqa: BLE001 - reported by release()
                self.result["error"] = e

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        poller = select.poll()
        poller.register(self.entered_fd, select.POLLIN)
        if not poller.poll(60_000):
            pytest.fail(f"The held request never reached the model:\n{_server_log(srv)}")
        assert os.read(self.entered_fd, 16) == b"in"

    def release(self):
        self.gate_fd = os.open(self.gate, os.O_RDONLY | os.O_NONBLOCK)  # The model's write proceeds.
        self.thread.join(60)
        assert not self.thread.is_alive()
        os.close(self.entered_fd)
        os.close(self.gate_fd)
        if "error" in self.result:
            raise self.result["error"]
        return self.result["answer"]


def _hold_over_rest(srv):
    def send(entered, gate):
        body = {"signature_name": "hold", "inputs": {"entered": entered, "gate": gate}}
        return srv.post("/v1/models/gate:predict", body)

    return send


def _hold_over_grpc(srv):
    def send(entered, gate):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "gate"
        request.model_spec.signature_name = "hold"
        request.inputs["entered"].CopyFrom(tf.make_tensor_proto(entered.encode()))
        request.inputs["gate"].CopyFrom(tf.make_tensor_proto(gate.encode()))
        return srv.predictions.Predict(request, timeout=60)

    return send


BUSY = "The server already has 1 requests in flight (--max_concurrent_requests); try again later"


def test_requests_beyond_the_in_flight_cap_get_503_and_unavailable_at_once(limited, tmp_path):
    held = Held(limited, tmp_path, _hold_over_rest(limited))
    start = time.monotonic()
    answer = limited.post("/v1/models/dcgan:predict", SAMPLE)
    assert answer.status_code == 503 and answer.headers["content-type"] == JSON
    assert answer.json() == {"error": BUSY}
    with pytest.raises(ServingError) as info:
        Client(limited.rest).sample("dcgan", 2, seed=1)
    assert info.value.code == "UNAVAILABLE"
    # The budget is shared: gRPC is refused too.
    with pytest.raises(grpc.RpcError) as rpc:
        limited.predictions.Predict(_predict_request("dcgan", "sample", num_samples=2, seed=1), timeout=60)
    assert rpc.value.code() == grpc.StatusCode.UNAVAILABLE and rpc.value.details() == BUSY
    assert time.monotonic() - start < 5  # refused, not queued
    # Status and metadata are not counted.
    assert limited.get("/v1/models/dcgan").status_code == 200
    assert limited.get("/v1/models/dcgan/metadata").status_code == 200
    done = held.release()
    assert done.status_code == 200 and done.json() == {"outputs": [1]}
    _serves(limited)


def test_an_expired_grpc_deadline_is_not_run(limited, tmp_path):
    # The held request takes the one gRPC worker (and the one slot): the next waits for it.
    held = Held(limited, tmp_path, _hold_over_grpc(limited))
    marker = tmp_path / "ran"
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "gate"
    request.model_spec.signature_name = "touch"
    request.inputs["path"].CopyFrom(tf.make_tensor_proto(str(marker).encode()))
    with pytest.raises(grpc.RpcError) as info:
        limited.predictions.Predict(request, timeout=0.5)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert limited.post("/v1/models/dcgan:predict", SAMPLE).status_code == 503  # REST shares the slot
    reply = held.release()
    assert list(reply.outputs["done"].int_val) == [1]
    # The one worker runs what it was given in order: once this answers, the expired
    # request has had its turn, and it did not run.
    _serves(limited)
    assert not marker.exists()
    limited.predictions.Predict(request, timeout=60)
    assert marker.read_bytes() == b"ran"


class _Context:
    def __init__(self, remaining, active=True):
        self.remaining, self.active, self.aborted = remaining, active, None

    def time_remaining(self):
        return self.remaining

    def is_active(self):
        return self.active

    def abort(self, code, details):
        self.aborted = (code, details)
        raise grpc.RpcError(details)


class _NoCore:
    def predict(self, request):
        raise AssertionError("the model was run")


@pytest.mark.parametrize("context, code", [
    (_Context(remaining=0.0), grpc.StatusCode.DEADLINE_EXCEEDED),
    (_Context(remaining=-3.0), grpc.StatusCode.DEADLINE_EXCEEDED),
    (_Context(remaining=10.0, active=False), grpc.StatusCode.CANCELLED),
])
def test_predict_runs_nothing_for_a_caller_out_of_time_or_gone(context, code):
    PredictionService, _ = grpc_api._servicers()
    service = PredictionService(_NoCore())
    with pytest.raises(grpc.RpcError):
        service.Predict(predict_pb2.PredictRequest(), context)
    assert context.aborted[0] == code


# ----------------------------------------------------------------------------------
# Routing: a version beyond int64.
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/models/dcgan/versions/99999999999999999999"),
    ("GET", "/v1/models/dcgan/versions/9223372036854775808/metadata"),
    ("POST", "/v1/models/dcgan/versions/99999999999999999999:predict"),
])
def test_a_version_overflowing_int64_gets_tf_servings_answer(limited, method, path):
    # TF Serving's ParseModelInfo fails with "Failed to convert version: <v> to numeric."
    # (its handler then sends an empty body; the embedded server sends the message as JSON).
    answer = requests.request(method, limited.rest + path, data=orjson.dumps(SAMPLE), timeout=60)
    assert answer.status_code == 400 and answer.headers["content-type"] == JSON
    version = path.split("/versions/")[1].split(":")[0].split("/")[0]
    assert answer.json() == {"error": f"Failed to convert version: {version} to numeric."}
    versioned = limited.post("/v1/models/dcgan/versions/9223372036854775807:predict", SAMPLE)
    assert versioned.status_code == 404 and "Specific(dcgan, 9223372036854775807)" in versioned.json()["error"]


# ----------------------------------------------------------------------------------
# Flags.
# ----------------------------------------------------------------------------------
def test_limit_flags_defaults_and_the_real_binary():
    options = ServerOptions()
    assert options.rest_api_max_request_bytes == 32 * 2**20 and options.max_concurrent_requests == 32
    assert grpc_api.DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH == 32 * 2**20
    args = serve.build_parser().parse_args([
        "--rest_api_max_request_bytes=10", "--max_concurrent_requests=2", "--rest_api_num_threads=3",
        "--grpc_channel_arguments=grpc.max_receive_message_length=100,grpc.lb_policy_name=x",
    ])
    assert (args.rest_api_max_request_bytes, args.max_concurrent_requests, args.rest_api_num_threads) == (10, 2, 3)
    # tensorflow_model_server gets only the flags it knows.
    assert serve.binary_argv(args) == [
        "tensorflow_model_server",
        "--grpc_channel_arguments=grpc.max_receive_message_length=100,grpc.lb_policy_name=x",
        "--rest_api_num_threads=3",
    ]


def test_grpc_channel_arguments_parse_as_tf_serving_passes_them():
    assert grpc_api.parse_channel_arguments("") == []
    assert grpc_api.parse_channel_arguments(
        "grpc.max_receive_message_length=67108864,grpc.lb_policy_name=round_robin,x=99999999999"
    ) == [("grpc.max_receive_message_length", 67108864), ("grpc.lb_policy_name", "round_robin"),
          ("x", "99999999999")]  # beyond int32: a string, as TF Serving's SimpleAtoi into int32
    with pytest.raises(ValueError, match="expected key=value"):
        grpc_api.parse_channel_arguments("grpc.max_receive_message_length")


def test_bad_channel_arguments_stop_the_server_before_it_starts(tmp_path):
    options = ServerOptions(model_base_path=str(tmp_path), port=0, grpc_channel_arguments="nonsense")
    assert kg.serving.server.run_embedded(options) == 2


# ----------------------------------------------------------------------------------
# The fast paths give exactly what the element-wise code gave.
# ----------------------------------------------------------------------------------
VALUES = [
    [[1, 2], [3, 4]], [[1.5, 2], [3, -4e10]], [1, 2.5, True], [[1, 2], [3]], [[1, 2], 3], [[[1]], [[2]]],
    [2**31, 1], [-(2**31) - 1], [2**63 - 1, 0], [2**63], [2**64 - 1], [-1, 255, 256, -129], [True, False],
    [True, 1], ["a", "b"], [{"b64": "YQ=="}], [[None]], [[]], [], 3, 2.5, True, "x", [1e308, -1e308, 3.4e38, 3.5e38],
    [2**70], [[1, 2], [3, [4]]], [[[1, 2]], [[3, 4]]], [0.1, 0.2, 1 / 3], [65504.0, 65520.0, 1e-8],
    [float("nan"), float("inf"), -float("inf")], [10**400], [[1, 2], {"a": 1}], [[0.5] * 3] * 2,
]
DTYPES = [jt.DT_FLOAT, jt.DT_DOUBLE, jt.DT_HALF, jt.DT_INT32, jt.DT_INT64, jt.DT_UINT8, jt.DT_INT8, jt.DT_INT16,
          jt.DT_UINT16, jt.DT_UINT32, jt.DT_UINT64, jt.DT_BOOL, jt.DT_STRING]


def _outcome(fn):
    try:
        result = fn()
    except ServingError as e:
        return ("error", e.code, e.message)
    except Exception as e:  # noqa: BLE001 - the same unexpected failure either way
        return ("exception", type(e).__name__)
    if isinstance(result, np.ndarray):
        result = ("", {"": result})
    fmt, tensors = result
    # Bytes, not values: NaN must equal NaN.
    return ("ok", fmt, {k: (a.dtype, a.shape, a.tolist() if a.dtype == object else a.tobytes())
                        for k, a in tensors.items()})


@pytest.fixture
def element_wise(monkeypatch):
    """Runs a function with the fast paths turned off: the element-wise reader alone."""
    def run(fn):
        with monkeypatch.context() as m:
            m.setattr(jt, "_fast_array", lambda *args: None)
            return _outcome(fn)

    return run


def test_vectorized_decoding_gives_the_element_wise_arrays_and_errors(element_wise):
    for value in VALUES:
        for dtype in DTYPES:
            assert _outcome(lambda: jt._tensor_from_value(value, dtype)) == element_wise(
                lambda: jt._tensor_from_value(value, dtype)), (value, dtype)
            if not isinstance(value, list) or not value:
                continue
            for doc, inputs in (
                ({"instances": value}, {"z": dtype}),
                ({"inputs": value}, {"z": dtype}),
                ({"inputs": {"z": value, "labels": [1]}}, {"z": dtype, "labels": jt.DT_INT32}),
                ({"instances": [{"z": x, "labels": 1} for x in value]}, {"z": dtype, "labels": jt.DT_INT32}),
                ({"instances": [{"z": x} for x in value]}, {"z": dtype}),
                ({"instances": [{"z": value[0], "labels": 1}, {"z": value[0]}]}, {"z": dtype, "labels": jt.DT_INT32}),
                ({"instances": [{"b64": "YQ=="}] + value}, {"z": dtype}),
                ({"instances": [{"b64": "YQ=="}] + value}, {"z": dtype, "labels": jt.DT_INT32}),
            ):
                assert _outcome(lambda: jt.tensors_from_json(doc, inputs)) == element_wise(
                    lambda: jt.tensors_from_json(doc, inputs)), (doc, inputs)


def test_a_latent_batch_is_read_exactly_in_both_formats():
    z = np.random.default_rng(0).standard_normal([256, 100]).astype(np.float32)
    for key in ("instances", "inputs"):
        doc = jt.parse_json(orjson.dumps({key: z.astype(np.float64)}, option=orjson.OPT_SERIALIZE_NUMPY))
        _, tensors = jt.tensors_from_json(doc, {"z": jt.DT_FLOAT})
        assert tensors["z"].dtype == np.float32
        np.testing.assert_array_equal(tensors["z"], z)


def test_fast_response_text_is_the_nested_text():
    rng = np.random.default_rng(0)
    shapes = [(2, 1), (1, 1), (3, 4), (2, 3, 4), (5, 1, 1), (1, 1, 1, 1), (2, 1, 3, 1), (4, 28, 28, 1), (3, 2, 1, 2, 1),
              (7, 0), (0, 3), (0, 1), (1,), (5,), ()]
    for shape in shapes:
        for dtype in (np.uint8, np.int32, np.int64, np.float32, np.float64, np.float16, np.bool_, np.int8):
            array = rng.random(shape) > 0.5 if dtype == np.bool_ else (rng.standard_normal(shape) * 100).astype(dtype)
            nested = orjson.dumps(array if array.ndim else array[()], option=orjson.OPT_SERIALIZE_NUMPY)
            if array.ndim:
                assert jt._array_json(array) == nested, (shape, dtype)
            if array.ndim >= 2:
                assert jt._array_json(np.asfortranarray(array)) == nested
            for fmt, key in ((jt.COLUMNAR, "outputs"), (jt.ROW, "predictions")):
                if fmt == jt.ROW and array.ndim == 0:
                    continue
                assert jt.json_from_tensors({"images": array}, fmt) == orjson.dumps(
                    {key: array if array.ndim else array[()]}, option=orjson.OPT_SERIALIZE_NUMPY)
    # A scalar output is a bare value (TF Serving), non-finite floats TF Serving's tokens.
    assert jt.json_from_tensors({"x": np.array(7, np.uint8)}, jt.COLUMNAR) == b'{"outputs":7}'
    assert jt.json_from_tensors({"x": np.array([[np.nan], [-np.inf]], np.float32)}, jt.COLUMNAR) == (
        b'{"outputs":[[NaN], [-Infinity]]}')


def _typed_proto(array, dtype):
    """The TensorProto the element-wise code built (one value at a time)."""
    from tensorflow.core.framework import tensor_pb2

    proto = tensor_pb2.TensorProto(dtype=dtype)
    proto.tensor_shape.SetInParent()
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    flat = array.reshape(-1)
    if dtype == jt.DT_HALF:
        proto.half_val.extend(flat.astype(np.float16).view(np.uint16).tolist())
    else:
        getattr(proto, grpc_api._TYPED_FIELD[dtype]).extend(flat.tolist())
    return proto


def test_grpc_typed_fields_are_the_values_written_one_by_one():
    rng = np.random.default_rng(1)
    kinds = [(jt.DT_UINT8, np.uint8), (jt.DT_INT32, np.int32), (jt.DT_INT64, np.int64), (jt.DT_FLOAT, np.float32),
             (jt.DT_DOUBLE, np.float64), (jt.DT_INT8, np.int8), (jt.DT_INT16, np.int16), (jt.DT_UINT16, np.uint16),
             (jt.DT_UINT32, np.uint32), (jt.DT_UINT64, np.uint64), (jt.DT_BOOL, np.bool_), (jt.DT_HALF, np.float16)]
    cases = [
        (np.array([0, 127, 128, 255, 16383, 16384, 2**31 - 1, -1, -(2**31)], np.int32), jt.DT_INT32),
        (np.array([2**63 - 1, -(2**63), 0, 1, -1], np.int64), jt.DT_INT64),
        (np.array([2**64 - 1, 0, 2**63], np.uint64), jt.DT_UINT64),
        (np.array([np.inf, -0.0, 1e-45], np.float32), jt.DT_FLOAT),
    ]
    for dtype, np_dtype in kinds:
        for shape in ((), (0,), (5,), (3, 4), (2, 3, 1), (64, 28, 28, 1)):
            if np_dtype == np.bool_:
                array = rng.random(shape) > 0.5
            elif np.dtype(np_dtype).kind == "f":
                array = (rng.standard_normal(shape) * 1000).astype(np_dtype)
            else:
                info = np.iinfo(np_dtype)
                array = rng.integers(info.min, info.max, shape, dtype=np_dtype, endpoint=True)
            cases.append((array, dtype))
    for array, dtype in cases:
        fast = grpc_api.tensor_proto(array, dtype)
        assert fast == _typed_proto(array, dtype), (array.dtype, array.shape)
        assert fast.SerializeToString() == _typed_proto(array, dtype).SerializeToString()
        assert not fast.tensor_content
        np.testing.assert_array_equal(tf.make_ndarray(fast), array)


def test_grpc_predict_response_bytes_are_the_response_protobuf_writes():
    from tensorflow.core.framework import tensor_pb2
    from tensorflow_serving.apis import model_pb2, predict_pb2

    descriptor = tensor_pb2.TensorProto.DESCRIPTOR
    assert {k: descriptor.fields_by_name[k].number for k in grpc_api._FIELD_NUMBER} == grpc_api._FIELD_NUMBER
    assert predict_pb2.PredictResponse.DESCRIPTOR.fields_by_name["outputs"].number == grpc_api._OUTPUTS_FIELD
    spec = model_pb2.ModelSpec(name="dcgan", signature_name="sample")
    spec.version.value = 3
    rng = np.random.default_rng(2)
    outputs = {
        "images": (rng.integers(0, 256, [4, 5, 5, 1]).astype(np.uint8), jt.DT_UINT8),
        "points": (rng.standard_normal([3, 2]).astype(np.float32), jt.DT_FLOAT),
        "png": (np.array([b"\x89PNG\r\n", b""], object), jt.DT_STRING),
        "empty": (np.zeros([0, 7], np.float32), jt.DT_FLOAT),
        "ñame": (np.array(5, np.int64), jt.DT_INT64),
    }
    for as_content in (False, True):
        wire = grpc_api.predict_response_bytes(spec, {
            alias: grpc_api.tensor_proto_bytes(array, dtype, as_content) for alias, (array, dtype) in outputs.items()
        })
        expected = predict_pb2.PredictResponse(model_spec=spec)
        for alias, (array, dtype) in outputs.items():
            if dtype == jt.DT_STRING:
                expected.outputs[alias].CopyFrom(tf.make_tensor_proto(array.tolist(), tf.string))
            elif as_content:
                tensor = expected.outputs[alias]
                tensor.dtype = dtype
                tensor.tensor_shape.SetInParent()
                for size in array.shape:
                    tensor.tensor_shape.dim.add(size=size)
                tensor.tensor_content = array.tobytes()
            else:
                expected.outputs[alias].CopyFrom(_typed_proto(array, dtype))
        parsed = predict_pb2.PredictResponse.FromString(wire)
        assert parsed == expected
        for alias, (array, _) in outputs.items():
            np.testing.assert_array_equal(tf.make_ndarray(parsed.outputs[alias]), array)
