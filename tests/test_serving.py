"""The embedded server as a real subprocess, spoken to as TF Serving's documentation says.

One server per module (`keras-gans serve --embedded ...` on free loopback ports) serves
every family, exported once with tiny widths. Requests go through `requests` (REST) and
the gRPC stubs of `tensorflow-serving-api`, in TF Serving's documented formats; answers
are compared bit for bit with the same SavedModels run in this process with the TF1
loader, and with in-process generation. Bad requests must get TF Serving's status codes
and error bodies, and the server must go on serving.
"""

import base64
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

import keras_gans as kg
from keras_gans import export
from keras_gans.models.sampling import latent_from_seed, to_uint8
from keras_gans.serving import Client, ServingError
from keras_gans.serving.server import config as config_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(image_shape=(28, 28, 1), latent_dim=4, g_width=4, d_width=4)
TOY = dict(image_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,))
FAMILIES = {
    "vanilla": lambda: kg.models.VanillaGAN(image_shape=(28, 28, 1), latent_dim=4, g_hidden=(8,), d_hidden=(8,), seed=1),
    "dcgan": lambda: kg.models.DCGAN(**TINY, seed=2),
    "cgan": lambda: kg.models.ConditionalGAN(**TINY, num_classes=3, seed=3),
    "wgan": lambda: kg.models.WGAN(**TINY, seed=4),
    "wgan_gp": lambda: kg.models.WGANGP(**TINY, seed=5),
    "toy": lambda: kg.models.WGANGP(**TOY, seed=6),
    "toy_cgan": lambda: kg.models.ConditionalGAN(**TOY, num_classes=3, seed=7),
}
LIMIT = 16  # max_num_samples of the exports
POLL_SECONDS = 1
JSON = "application/json"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tf1Model:
    """A SavedModel loaded like TF Serving loads it; the in-process reference.

    The server runs with TensorFlow's default threading, as this process does: oneDNN's
    convolutions reduce in an order that depends on the thread count, and equal settings
    make float results agree to the bit.
    """

    def __init__(self, path):
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], str(path))
        self.signatures = dict(meta_graph.signature_def)

    def run(self, signature_name, **inputs):
        signature = self.signatures[signature_name]
        feeds = {signature.inputs[k].name: v for k, v in inputs.items()}
        ((alias, info),) = signature.outputs.items()
        return self.session.run(info.name, feeds)


class Served:
    def __init__(self, root, rest_port, grpc_port):
        self.root = root
        self.models = root / "saved_models"
        self.rest = f"http://127.0.0.1:{rest_port}"
        self.grpc_target = f"127.0.0.1:{grpc_port}"
        self.gans, self.reference = {}, {}
        self.channel = None

    def post(self, path, body, **kwargs):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return requests.post(self.rest + path, data=data, timeout=60, **kwargs)

    def get(self, path, **kwargs):
        return requests.get(self.rest + path, timeout=60, **kwargs)

    @property
    def predictions(self):
        return prediction_service_pb2_grpc.PredictionServiceStub(self.channel)

    @property
    def model_service(self):
        return model_service_pb2_grpc.ModelServiceStub(self.channel)


def _start_server(served, config_path, log_path, *flags):
    command = [
        sys.executable, "-m", "keras_gans.cli", "serve", "--embedded",
        "--host=127.0.0.1",
        f"--port={served.grpc_target.rsplit(':', 1)[1]}",
        f"--rest_api_port={served.rest.rsplit(':', 1)[1]}",
        f"--model_config_file={config_path}",
        f"--file_system_poll_wait_seconds={POLL_SECONDS}",
        *flags,
    ]
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    log = open(log_path, "w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, log


def _server_log(served):
    return (served.root / "server.log").read_text()[-4000:]


@contextlib.contextmanager
def _running(srv, process, log, models):
    """Waits until the server `process` serves every model in `models` and its gRPC port
    is ready, then stops it (SIGTERM, a kill after 20 s) when the block ends."""
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"The server exited with {process.returncode}:\n{_server_log(srv)}")
            try:
                if all(srv.get(f"/v1/models/{m}").status_code == 200 for m in models):
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"The server did not become ready:\n{_server_log(srv)}")
            time.sleep(0.25)
        srv.channel = grpc.insecure_channel(srv.grpc_target)
        grpc.channel_ready_future(srv.channel).result(timeout=60)
        yield srv
    finally:
        if srv.channel is not None:
            srv.channel.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    srv = Served(root, _free_port(), _free_port())
    for name, build in FAMILIES.items():
        gan = build()
        version = export.export_generator(gan, srv.models / name, max_num_samples=LIMIT)
        srv.gans[name], srv.reference[name] = gan, Tf1Model(srv.models / name / str(version))
    # A model whose versions the polling tests add and remove.
    srv.gans["live"] = FAMILIES["dcgan"]()
    export.export_generator(srv.gans["live"], srv.models / "live", max_num_samples=LIMIT)
    config_path = root / "models.config"
    server_config = config_lib.write_models_config(srv.models, config_path, base_path_prefix=None)
    for model in server_config.model_config_list.config:
        if model.name == "dcgan":
            model.version_labels["stable"] = 1
    from google.protobuf import text_format

    config_path.write_text(text_format.MessageToString(server_config))

    process, log = _start_server(srv, config_path, root / "server.log")
    with _running(srv, process, log, list(FAMILIES) + ["live"]):
        yield srv


def _proto(value, dtype):
    return tf.make_tensor_proto(value, dtype)


def _predict_request(model, signature, version=None, **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    dtypes = {"num_samples": tf.int32, "seed": tf.int64, "labels": tf.int32, "z": tf.float32}
    for name, value in inputs.items():
        proto = value if isinstance(value, type(request.inputs[name])) else _proto(value, dtypes.get(name))
        request.inputs[name].CopyFrom(proto)
    return request


def _labels_for(name, n):
    return list(np.arange(n) % 3) if name in ("cgan", "toy_cgan") else None


# ----------------------------------------------------------------------------------
# Served results equal in-process generation, for every family.
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("family", list(FAMILIES))
def test_sample_is_bit_exact_over_rest_and_grpc(served, family):
    gan, reference = served.gans[family], served.reference[family]
    n, seed = 6, 11
    labels = _labels_for(family, n)
    extra = {"labels": labels} if labels is not None else {}
    expected = reference.run("sample", num_samples=n, seed=seed, **{k: np.int32(v) for k, v in extra.items()})

    body = {"signature_name": "sample", "inputs": {"num_samples": n, "seed": seed, **{k: [int(x) for x in v] for k, v in extra.items()}}}
    response = served.post(f"/v1/models/{family}:predict", body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON
    assert set(response.json()) == {"outputs"}  # one output: its name is dropped
    rest = np.asarray(response.json()["outputs"], dtype=expected.dtype)
    np.testing.assert_array_equal(rest, expected)

    grpc_response = served.predictions.Predict(_predict_request(family, "sample", num_samples=n, seed=seed, **extra))
    assert grpc_response.model_spec.name == family
    assert grpc_response.model_spec.signature_name == "sample"
    assert grpc_response.model_spec.version.value == 1
    np.testing.assert_array_equal(tf.make_ndarray(grpc_response.outputs["images"]), expected)
    if expected.dtype == np.uint8:
        assert grpc_response.outputs["images"].dtype == tf.uint8.as_datatype_enum
        assert len(grpc_response.outputs["images"].int_val) == expected.size  # typed field
        assert not grpc_response.outputs["images"].tensor_content

    # Close to the Python model itself.
    in_process = gan.sample(n, seed=seed, labels=labels)
    if expected.dtype == np.uint8:
        assert np.abs(rest.astype(int) - to_uint8(in_process).numpy().astype(int)).max() <= 1
    else:
        np.testing.assert_allclose(rest, in_process, atol=1e-5)

    # The client, both ways; labels=None takes the classes in turn, as GAN.sample does.
    for url in (served.rest, "grpc://" + served.grpc_target):
        with Client(url) as client:
            np.testing.assert_array_equal(client.sample(family, n, seed=seed, labels=labels), expected)
            if labels is not None:
                np.testing.assert_array_equal(client.sample(family, n, seed=seed), expected)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_serving_default_rows_and_columns(served, family):
    gan, reference = served.gans[family], served.reference[family]
    n = 3
    z = latent_from_seed(n, gan.latent_dim, 5).numpy()
    labels = _labels_for(family, n)
    expected = reference.run("serving_default", z=z, **({"labels": np.int32(labels)} if labels else {}))
    generated = gan.generate(tf.constant(z), labels) if labels else gan.generate(tf.constant(z))
    np.testing.assert_allclose(expected, generated.numpy(), atol=1e-5)

    zs = z.astype(np.float64).tolist()  # exact decimal text of each float32
    if labels:
        rows = {"instances": [{"z": zi, "labels": int(li)} for zi, li in zip(zs, labels)]}
        columns = {"inputs": {"z": zs, "labels": [int(x) for x in labels]}}
    else:
        rows, columns = {"instances": zs}, {"inputs": zs}
    row_answer = served.post(f"/v1/models/{family}:predict", rows)
    assert row_answer.status_code == 200, row_answer.text
    np.testing.assert_array_equal(np.asarray(row_answer.json()["predictions"], np.float32), expected)
    column_answer = served.post(f"/v1/models/{family}:predict", columns)
    np.testing.assert_array_equal(np.asarray(column_answer.json()["outputs"], np.float32), expected)

    grpc_answer = served.predictions.Predict(
        _predict_request(family, "", z=z, **({"labels": labels} if labels else {}))
    )
    assert grpc_answer.model_spec.signature_name == "serving_default"
    assert len(grpc_answer.outputs["images"].float_val) == expected.size
    np.testing.assert_array_equal(tf.make_ndarray(grpc_answer.outputs["images"]), expected)
    for url in (served.rest, "grpc://" + served.grpc_target):
        np.testing.assert_array_equal(Client(url).predict(family, z, labels=labels), expected)


@pytest.mark.parametrize("family", ["dcgan", "cgan"])
def test_sample_png_comes_back_as_b64_and_raw_bytes(served, family):
    labels = _labels_for(family, 4)
    extra = {"labels": [int(x) for x in labels]} if labels else {}
    expected = served.reference[family].run(
        "sample", num_samples=4, seed=9, **{k: np.int32(v) for k, v in extra.items()}
    )
    body = {"signature_name": "sample_png", "inputs": {"num_samples": 4, "seed": 9, **extra}}
    answer = served.post(f"/v1/models/{family}:predict", body).json()
    assert all(set(item) == {"b64"} for item in answer["outputs"])
    pngs = [base64.b64decode(item["b64"]) for item in answer["outputs"]]
    decoded = np.stack([np.asarray(Image.open(io.BytesIO(p))) for p in pngs]).reshape(expected.shape)
    np.testing.assert_array_equal(decoded, expected)
    grpc_answer = served.predictions.Predict(_predict_request(family, "sample_png", num_samples=4, seed=9, **extra))
    assert list(grpc_answer.outputs["images_bytes"].string_val) == pngs  # raw bytes, not base64
    assert Client("grpc://" + served.grpc_target).sample_png(family, 4, seed=9, labels=labels) == pngs


# ----------------------------------------------------------------------------------
# Status and metadata, exactly as TF Serving writes them.
# ----------------------------------------------------------------------------------
def test_rest_status_and_metadata(served):
    status = served.get("/v1/models/cgan")
    assert status.status_code == 200 and status.headers["content-type"] == JSON
    assert status.json() == {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    assert served.get("/v1/models/cgan/versions/1").json() == status.json()
    assert served.get("/V1/MODELS/cgan").json() == status.json()  # the patterns ignore case
    assert served.get("/v1/models/cgan/METADATA").json() == status.json()  # ...but "metadata" does not

    metadata = served.get("/v1/models/cgan/metadata").json()
    assert metadata["model_spec"] == {"name": "cgan", "signature_name": "", "version": "1"}
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert set(signatures) == {"__saved_model_init_op", "serving_default", "sample", "sample_png"}
    sample = signatures["sample"]
    assert sample["method_name"] == "tensorflow/serving/predict" and sample["defaults"] == {}
    assert sample["inputs"]["num_samples"]["dtype"] == "DT_INT32"
    assert sample["inputs"]["num_samples"]["tensor_shape"] == {"dim": [], "unknown_rank": False}
    assert sample["inputs"]["seed"]["dtype"] == "DT_INT64"
    assert sample["inputs"]["labels"]["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}
    assert sample["outputs"]["images"]["dtype"] == "DT_UINT8"
    assert [d["size"] for d in sample["outputs"]["images"]["tensor_shape"]["dim"]] == ["-1", "28", "28", "1"]
    init = signatures["__saved_model_init_op"]
    assert init["inputs"] == {} and init["outputs"]["__saved_model_init_op"]["dtype"] == "DT_INVALID"
    assert init["outputs"]["__saved_model_init_op"]["tensor_shape"]["unknown_rank"] is True
    assert served.get("/v1/models/cgan/versions/1/metadata").json() == metadata


def test_grpc_status_and_metadata(served):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "dcgan"
    (status,) = served.model_service.GetModelStatus(request).model_version_status
    assert status.version == 1 and status.state == 30 and status.status.error_code == 0  # AVAILABLE, OK

    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "dcgan"
    response = served.predictions.GetModelMetadata(request)
    assert response.model_spec.name == "dcgan" and response.model_spec.version.value == 1
    assert not response.model_spec.signature_name
    assert list(response.metadata) == ["signature_def"]
    assert response.metadata["signature_def"].type_url == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    assert dict(signatures.signature_def) == served.reference["dcgan"].signatures


def test_version_labels_from_the_config(served):
    z = [[0.0] * 4]
    assert served.post("/v1/models/dcgan/labels/stable:predict", {"instances": z}).status_code == 200
    # A label in a status request is ignored: every version comes back.
    assert served.get("/v1/models/dcgan/labels/stable").json() == served.get("/v1/models/dcgan").json()
    request = _predict_request("dcgan", "sample", num_samples=1, seed=1)
    request.model_spec.version_label = "stable"
    assert served.predictions.Predict(request).model_spec.version.value == 1


def test_cors_preflight(served):
    ok = requests.options(served.rest + "/v1/models/dcgan:predict", headers={"Origin": "http://example.com"})
    assert ok.status_code == 200 and ok.content == b"" and "content-type" not in ok.headers
    refused = requests.options(served.rest + "/v1/models/dcgan:predict")
    assert refused.status_code == 400 and refused.content == b""


# ----------------------------------------------------------------------------------
# Bad input: TF Serving's status codes and error bodies; the server keeps serving.
# ----------------------------------------------------------------------------------
SAMPLE = {"signature_name": "sample"}
REST_ERRORS = [
    # (id, method, path, body, HTTP status, part of the message)
    ("unknown model", "POST", "/v1/models/nope:predict", {"instances": [[0, 0, 0, 0]]}, 404,
     "Servable not found for request: Latest(nope)"),
    ("unknown version", "POST", "/v1/models/dcgan/versions/9:predict", {"instances": [[0, 0, 0, 0]]}, 404,
     "Servable not found for request: Specific(dcgan, 9)"),
    ("unknown label", "POST", "/v1/models/dcgan/labels/canary:predict", {"instances": [[0, 0, 0, 0]]}, 400,
     "Unrecognized servable version label: canary"),
    ("unknown label, unknown model", "POST", "/v1/models/nope/labels/canary:predict", {"instances": [[0]]}, 400,
     "Unrecognized servable version label: canary"),
    ("unknown signature", "POST", "/v1/models/dcgan:predict", {"signature_name": "nope", "instances": [[0]]}, 400,
     'Serving signature name: "nope" not found in signature def'),
    ("signature name not a string", "POST", "/v1/models/dcgan:predict", {"signature_name": 1, "instances": [[0]]},
     400, "'signature_name' key must be a string value."),
    ("malformed JSON", "POST", "/v1/models/dcgan:predict", b'{"instances": [[0, 0', 400, "JSON Parse error"),
    ("malformed JSON, unknown model", "POST", "/v1/models/nope:predict", b"{", 400, "JSON Parse error"),
    ("empty body", "POST", "/v1/models/dcgan:predict", b"", 400, "JSON Parse error: The document is empty"),
    ("not an object", "POST", "/v1/models/dcgan:predict", b"[[0, 0, 0, 0]]", 400, "Is not object"),
    ("no instances or inputs", "POST", "/v1/models/dcgan:predict", {"signature_name": ""}, 400,
     "Missing 'inputs' or 'instances' key"),
    ("both instances and inputs", "POST", "/v1/models/dcgan:predict", {"instances": [[0]], "inputs": [[0]]}, 400,
     "expecting only one of 'inputs' or 'instances' keys"),
    ("empty instances", "POST", "/v1/models/dcgan:predict", {"instances": []}, 400, "No values in 'instances' array"),
    ("wrong input name, columnar", "POST", "/v1/models/dcgan:predict",
     dict(SAMPLE, inputs={"n": 2, "seed": 1}), 400, "Missing named input: num_samples in 'inputs' object."),
    ("wrong input name, rows", "POST", "/v1/models/cgan:predict",
     {"instances": [{"x": [0, 0, 0, 0], "labels": 1}]}, 400, "does not have named input: x"),
    ("plain list for two inputs", "POST", "/v1/models/cgan:predict", {"instances": [[0, 0, 0, 0]]}, 400,
     "instances is a plain list, but expecting list of objects"),
    ("wrong latent size", "POST", "/v1/models/dcgan:predict", {"instances": [[0, 0, 0]]}, 400, "(None, 4)"),
    ("ragged instances", "POST", "/v1/models/dcgan:predict", {"instances": [[0, 0, 0, 0], [0, 0]]}, 400,
     "Expecting tensor size: 4 but got: 2"),
    ("ragged inputs", "POST", "/v1/models/dcgan:predict", {"inputs": [[0, 0, 0, 0], [0, 0]]}, 400,
     "Encountered list at unexpected size: 2 at level: 1 expected size: 4"),
    ("string for a float", "POST", "/v1/models/dcgan:predict", {"instances": [[0, 0, "a", 0]]}, 400,
     'JSON Value: "a" Type: String is not of expected type: float'),
    ("float for int32", "POST", "/v1/models/dcgan:predict", dict(SAMPLE, inputs={"num_samples": 2.0, "seed": 1}),
     400, "JSON Value: 2.0 Type: Number is not of expected type: int32"),
    ("string for int32", "POST", "/v1/models/dcgan:predict", dict(SAMPLE, inputs={"num_samples": "2", "seed": 1}),
     400, "is not of expected type: int32"),
    ("float for int64", "POST", "/v1/models/dcgan:predict", dict(SAMPLE, inputs={"num_samples": 2, "seed": 1.5}),
     400, "is not of expected type: int64"),
    ("int64 overflow", "POST", "/v1/models/dcgan:predict", dict(SAMPLE, inputs={"num_samples": 2, "seed": 2**63}),
     400, "is not of expected type: int64"),
    ("bool for int32 labels", "POST", "/v1/models/cgan:predict",
     dict(SAMPLE, inputs={"num_samples": 1, "seed": 1, "labels": [True]}), 400, "Type: True is not of expected type: int32"),
    ("list for a scalar", "POST", "/v1/models/dcgan:predict", dict(SAMPLE, inputs={"num_samples": [2], "seed": 1}),
     400, "Cannot feed value of shape (1,)"),
    ("sample in row form", "POST", "/v1/models/dcgan:predict",
     dict(SAMPLE, instances=[{"num_samples": 2, "seed": 1}]), 400, ""),
    ("num_samples 0", "POST", "/v1/models/dcgan:predict", dict(SAMPLE, inputs={"num_samples": 0, "seed": 1}), 400,
     f"num_samples must be between 1 and {LIMIT} (max_num_samples of this export); got 0"),
    ("num_samples negative", "POST", "/v1/models/dcgan:predict", dict(SAMPLE, inputs={"num_samples": -5, "seed": 1}),
     400, "got -5"),
    ("num_samples above the limit", "POST", "/v1/models/dcgan:predict",
     dict(SAMPLE, inputs={"num_samples": LIMIT + 1, "seed": 1}), 400, f"between 1 and {LIMIT}"),
    ("labels out of range", "POST", "/v1/models/cgan:predict",
     dict(SAMPLE, inputs={"num_samples": 2, "seed": 1, "labels": [0, 3]}), 400,
     "labels must be class ids in [0, 3); got [3]"),
    ("labels not matching num_samples", "POST", "/v1/models/cgan:predict",
     dict(SAMPLE, inputs={"num_samples": 3, "seed": 1, "labels": [0, 1]}), 400, "got 2 labels for 3"),
    ("labels out of range, serving_default", "POST", "/v1/models/cgan:predict",
     {"instances": [{"z": [0, 0, 0, 0], "labels": -1}]}, 400, "got [-1]"),
    ("too many rows of z", "POST", "/v1/models/dcgan:predict", {"instances": [[0, 0, 0, 0]] * (LIMIT + 1)}, 400,
     f"z must have at most {LIMIT} rows"),
    ("upper-case verb", "POST", "/v1/models/dcgan:PREDICT", {"instances": [[0, 0, 0, 0]]}, 400,
     "Malformed request: POST /v1/models/dcgan:PREDICT"),
    ("GET on predict", "GET", "/v1/models/dcgan:predict", None, 400, "Malformed request: GET /v1/models/dcgan:predict"),
    ("POST on status", "POST", "/v1/models/dcgan", {}, 400, "Malformed request: POST /v1/models/dcgan"),
    ("PUT", "PUT", "/v1/models/dcgan", {}, 400, "Malformed request: PUT /v1/models/dcgan"),
    ("trailing slash", "GET", "/v1/models/dcgan/", None, 400, "Malformed request: GET /v1/models/dcgan/"),
    ("non-numeric version", "GET", "/v1/models/dcgan/versions/one", None, 400, "Malformed request"),
    ("query on predict", "POST", "/v1/models/dcgan:predict?x=1", {"instances": [[0, 0, 0, 0]]}, 400,
     "Malformed request: POST /v1/models/dcgan:predict?x=1"),
    ("no model name", "GET", "/v1/models", None, 400, "Missing model name in request."),
    ("status of an unknown model", "GET", "/v1/models/nope", None, 404, "Could not find any versions of model nope"),
    ("status of an unknown version", "GET", "/v1/models/dcgan/versions/7", None, 404,
     "Could not find version 7 of model dcgan"),
    ("query joins the name", "GET", "/v1/models/dcgan?x=1", None, 404, "Could not find any versions of model dcgan?x=1"),
    ("metadata of an unknown model", "GET", "/v1/models/nope/metadata", None, 404,
     "Servable not found for request: Latest(nope)"),
    ("classify on a predict signature", "POST", "/v1/models/dcgan:classify", {"examples": [{"x": 1}]}, 400,
     "Expected classification signature method_name to be tensorflow/serving/classify"),
]


@pytest.mark.parametrize("case", REST_ERRORS, ids=[c[0] for c in REST_ERRORS])
def test_rest_errors(served, case):
    _, method, path, body, status, message = case
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    answer = requests.request(method, served.rest + path, data=data, timeout=60)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == JSON
    payload = answer.json()
    assert list(payload) == ["error"] and message in payload["error"], payload
    # ... and the server goes on serving.
    assert served.post("/v1/models/dcgan:predict", dict(SAMPLE, inputs={"num_samples": 1, "seed": 1})).status_code == 200


def test_rest_answers_outside_the_api(served):
    overflow = served.get("/v1/models/dcgan/versions/99999999999999999999")
    assert overflow.status_code == 400  # TF Serving: an empty body; here the message as JSON
    assert overflow.json() == {"error": "Failed to convert version: 99999999999999999999 to numeric."}
    elsewhere = served.get("/healthz")
    assert elsewhere.status_code == 404 and not elsewhere.headers["content-type"].startswith(JSON)
    # Trailing bytes after the JSON object are ignored, NaN/Infinity accepted for floats.
    ok = served.post("/v1/models/dcgan:predict", b'{"instances": [[0, 0, 0, 0]]} trailing')
    assert ok.status_code == 200
    assert served.post("/v1/models/dcgan:predict", b'{"instances": [[NaN, Infinity, -Inf, 0]]}').status_code == 200


GRPC_ERRORS = [
    # (id, method, request factory, code, part of the message)
    ("no model spec", "Predict", lambda: predict_pb2.PredictRequest(), grpc.StatusCode.INVALID_ARGUMENT,
     "Missing ModelSpec"),
    ("empty model name", "Predict", lambda: _predict_request("", "sample", num_samples=1, seed=1),
     grpc.StatusCode.INVALID_ARGUMENT, "ModelSpec has no name specified."),
    ("unknown model", "Predict", lambda: _predict_request("nope", "sample", num_samples=1, seed=1),
     grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)"),
    ("unknown version", "Predict", lambda: _predict_request("dcgan", "sample", version=4, num_samples=1, seed=1),
     grpc.StatusCode.NOT_FOUND, "Servable not found for request: Specific(dcgan, 4)"),
    ("unknown signature", "Predict", lambda: _predict_request("dcgan", "nope", num_samples=1, seed=1),
     grpc.StatusCode.FAILED_PRECONDITION, 'Serving signature key "nope" not found.'),
    ("missing input", "Predict", lambda: _predict_request("cgan", "sample", num_samples=1, seed=1),
     grpc.StatusCode.INVALID_ARGUMENT, "input size does not match signature: 2!=3"),
    ("unknown input", "Predict", lambda: _predict_request("dcgan", "sample", num_samples=1, labels=[1]),
     grpc.StatusCode.INVALID_ARGUMENT, "input tensor alias not found in signature: labels"),
    ("wrong dtype", "Predict",
     lambda: _predict_request("dcgan", "sample", num_samples=1, seed=_proto(1, tf.int32)),
     grpc.StatusCode.INVALID_ARGUMENT, "Expects arg[1] to be int64 but int32 is provided"),
    ("wrong shape", "Predict", lambda: _predict_request("dcgan", "", z=np.zeros([1, 3], np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT, ""),
    ("num_samples 0", "Predict", lambda: _predict_request("dcgan", "sample", num_samples=0, seed=1),
     grpc.StatusCode.INVALID_ARGUMENT, f"num_samples must be between 1 and {LIMIT}"),
    ("num_samples above the limit", "Predict", lambda: _predict_request("dcgan", "sample", num_samples=10**6, seed=1),
     grpc.StatusCode.INVALID_ARGUMENT, "got 1000000"),
    ("labels out of range", "Predict",
     lambda: _predict_request("cgan", "sample", num_samples=2, seed=1, labels=[5, 0]),
     grpc.StatusCode.INVALID_ARGUMENT, "labels must be class ids in [0, 3); got [5]"),
    ("labels not matching num_samples", "Predict",
     lambda: _predict_request("cgan", "sample", num_samples=1, seed=1, labels=[0, 0]),
     grpc.StatusCode.INVALID_ARGUMENT, "got 2 labels for 1"),
    ("unknown output filter", "Predict",
     lambda: _with_filter(_predict_request("dcgan", "sample", num_samples=1, seed=1), "png"),
     grpc.StatusCode.INVALID_ARGUMENT, "output tensor alias not found in signature: png"),
    ("metadata without fields", "GetModelMetadata",
     lambda: get_model_metadata_pb2.GetModelMetadataRequest(model_spec={"name": "nope"}),
     grpc.StatusCode.INVALID_ARGUMENT, "must specify at least one metadata_field"),
    ("unsupported metadata field", "GetModelMetadata",
     lambda: get_model_metadata_pb2.GetModelMetadataRequest(model_spec={"name": "dcgan"}, metadata_field=["x"]),
     grpc.StatusCode.INVALID_ARGUMENT, "Metadata field x is not supported"),
    ("metadata of an unknown model", "GetModelMetadata",
     lambda: get_model_metadata_pb2.GetModelMetadataRequest(model_spec={"name": "nope"}, metadata_field=["signature_def"]),
     grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)"),
    ("status without model spec", "GetModelStatus", lambda: get_model_status_pb2.GetModelStatusRequest(),
     grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec"),
    ("status of an unknown model", "GetModelStatus",
     lambda: get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "nope"}),
     grpc.StatusCode.NOT_FOUND, "Could not find any versions of model nope"),
]


def _with_filter(request, alias):
    request.output_filter.append(alias)
    return request


@pytest.mark.parametrize("case", GRPC_ERRORS, ids=[c[0] for c in GRPC_ERRORS])
def test_grpc_errors(served, case):
    _, method, make_request, code, message = case
    stub = served.model_service if method == "GetModelStatus" else served.predictions
    request = make_request()
    with pytest.raises(grpc.RpcError) as info:
        getattr(stub, method)(request, timeout=60)
    assert info.value.code() == code, info.value.details()
    assert message in info.value.details()
    ok = served.predictions.Predict(_predict_request("dcgan", "sample", num_samples=1, seed=1), timeout=60)
    assert ok.outputs["images"].tensor_shape.dim[0].size == 1


def test_client_errors_carry_the_servers_message(served):
    for url in (served.rest, "grpc://" + served.grpc_target):
        client = Client(url)
        with pytest.raises(ServingError) as info:
            client.sample("dcgan", 0, seed=1)
        assert info.value.code == "INVALID_ARGUMENT"
        assert f"num_samples must be between 1 and {LIMIT}" in info.value.message
        with pytest.raises(ServingError) as info:
            client.sample("nope", 1)
        assert info.value.code == "NOT_FOUND" and "Latest(nope)" in info.value.message
        with pytest.raises(ServingError, match=r"labels must be class ids in \[0, 3\); got \[7\]"):
            client.sample("cgan", 2, labels=[7, 0])
        with pytest.raises(ValueError, match="unconditional"):
            client.sample("dcgan", 2, labels=[0, 1])
    with pytest.raises(ServingError) as info:
        Client("http://127.0.0.1:9").status("dcgan")
    assert info.value.code == "UNAVAILABLE"
    with pytest.raises(ValueError, match="http://host:port"):
        Client("ftp://x")


# ----------------------------------------------------------------------------------
# Versions come and go without a restart.
# ----------------------------------------------------------------------------------
def _states(served, model):
    answer = served.get(f"/v1/models/{model}").json()
    return {int(v["version"]): (v["state"], v["status"]["error_code"]) for v in answer["model_version_status"]}


def _wait_for(predicate, what, served, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out waiting for {what}:\n{_server_log(served)}")
        time.sleep(0.1)
    return time.monotonic() - (deadline - timeout)


def _served_version(served, model):
    request = _predict_request(model, "sample", num_samples=1, seed=3)
    return served.predictions.Predict(request, timeout=60).model_spec.version.value


@pytest.mark.slow
def test_versions_are_polled_and_a_bad_version_does_not_take_the_model_down(served):
    base = served.models / "live"
    # A new version appears (atomically, as export_generator writes it): served within the poll.
    new_gan = FAMILIES["dcgan"]()
    export.export_generator(new_gan, base, version=2, max_num_samples=LIMIT)
    took = _wait_for(lambda: _states(served, "live").get(2, ("",))[0] == "AVAILABLE", "version 2", served)
    assert took < POLL_SECONDS + 10
    assert _states(served, "live") == {2: ("AVAILABLE", "OK"), 1: ("END", "OK")}
    assert _served_version(served, "live") == 2
    answer = served.post("/v1/models/live:predict", dict(SAMPLE, inputs={"num_samples": 3, "seed": 4})).json()
    expected = Tf1Model(base / "2").run("sample", num_samples=3, seed=4)
    np.testing.assert_array_equal(np.asarray(answer["outputs"], np.uint8), expected)

    # A corrupt version and a partial one: reported, while version 2 goes on serving.
    (base / "3").mkdir()
    (base / "3" / "saved_model.pb").write_bytes(b"\x00 not a SavedModel \xff" * 10)
    _wait_for(lambda: _states(served, "live").get(3, ("",))[0] == "END", "version 3 to fail", served)
    state, code = _states(served, "live")[3]
    assert code != "OK"
    status = served.get("/v1/models/live/versions/3").json()["model_version_status"][0]
    assert status["status"]["error_message"]
    (base / "4").mkdir()
    _wait_for(lambda: _states(served, "live").get(4, ("",))[0] == "END", "version 4 to fail", served)
    assert _states(served, "live")[4] == ("END", "NOT_FOUND")
    assert _states(served, "live")[2] == ("AVAILABLE", "OK")
    assert _served_version(served, "live") == 2
    assert served.post("/v1/models/live:predict", {"instances": [[0, 0, 0, 0]]}).status_code == 200

    # A good version replaces 2; once it is deleted, the newest version on disk (2) is
    # loaded again.
    shutil.rmtree(base / "3")
    shutil.rmtree(base / "4")
    export.export_generator(new_gan, base, version=5, max_num_samples=LIMIT)
    _wait_for(lambda: _states(served, "live").get(5, ("",))[0] == "AVAILABLE", "version 5", served)
    _wait_for(lambda: _states(served, "live")[2][0] == "END", "version 2 to be unloaded", served)
    assert _served_version(served, "live") == 5
    shutil.rmtree(base / "5")
    _wait_for(lambda: _states(served, "live").get(2, ("",))[0] == "AVAILABLE", "version 2 again", served)
    _wait_for(lambda: _states(served, "live")[5][0] == "END", "version 5 to be unloaded", served)
    assert _served_version(served, "live") == 2


def test_sample_command_writes_a_grid(served, tmp_path):
    from keras_gans import cli

    out = tmp_path / "grid.png"
    for url in (served.rest, "grpc://" + served.grpc_target):
        assert cli.main(["sample", "--server", url, "--model", "cgan", "-n", "4", "--seed", "3", "--labels", "0,1,2,0",
                                "--out", str(out)]) == 0
        grid = np.asarray(Image.open(out))
        assert grid.dtype == np.uint8 and grid.shape == (2 * 30 + 2, 2 * 30 + 2)
    with pytest.raises(SystemExit, match="answered NOT_FOUND: Servable not found for request: Latest\\(nope\\)"):
        cli.main(["sample", "--server", served.rest, "--model", "nope", "--out", str(out)])


def test_concurrent_requests_get_their_own_answers(served):
    """Many clients at once, both protocols: every answer is the one its request asked for."""
    from concurrent.futures import ThreadPoolExecutor

    expected = {seed: served.reference["dcgan"].run("sample", num_samples=2, seed=seed) for seed in range(8)}
    rest, grpc_client = Client(served.rest), Client("grpc://" + served.grpc_target)

    def ask(i):
        client = rest if i % 2 else grpc_client
        seed = i % 8
        return seed, client.sample("dcgan", 2, seed=seed)

    with ThreadPoolExecutor(8) as pool:
        for seed, images in pool.map(ask, range(32)):
            np.testing.assert_array_equal(images, expected[seed])
