"""Translators (pix2pix, CycleGAN) exported, and served as TF Serving serves them.

The exports are checked the way TF Serving loads them (the TF1 session loader running each
SignatureDef by its tensor names). Then one embedded server (`keras-gans serve --embedded`
on loopback, a real subprocess) serves them; requests go through `requests` and the gRPC
stubs of `tensorflow-serving-api` in TF Serving's documented formats: the `translate_png`
signatures take and give DT_STRING tensors, which REST carries as `{"b64": ...}` in the
row (`instances`) and columnar (`inputs`) forms and gRPC as raw `string_val` bytes. Bad
images must get TF Serving's 400 / INVALID_ARGUMENT with the export's message, and the
server must go on serving. One model has per-model batching parameters, so string
requests are also merged by the batching session.

Until the model classes exist the translators are tiny plain Keras models (the exporter
takes any image-to-image keras.Model, or an object with a `translators` dict).
"""

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import predict_pb2

import keras_gans as kg
from keras_gans import contract, export
from keras_gans.serving import Client, ServingError
from keras_gans.serving.server import config as config_lib
from tests.test_serving import ROOT, Served, Tf1Model, _free_port, _running, _server_log, _start_server

A_SHAPE, B_SHAPE = (28, 28, 1), (28, 28, 3)
SUBSET = os.path.join(ROOT, "tests", "data", "mnist")  # 1,000 real test digits
METRICS = "/monitoring/prometheus/metrics"


def _conv_translator(in_shape, out_channels, seed):
    """A tiny image -> image keras.Model with an output in [-1, 1]."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(in_shape)
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Conv2D(out_channels, 3, padding="same", activation="tanh")(hidden)
    return keras.Model(inputs, outputs)


class TwoWay:
    """A CycleGAN-shaped translator: `translators` with both directions, grayscale A and RGB B."""

    family = "two_way"

    def __init__(self):
        self.translators = {
            "a_to_b": _conv_translator(A_SHAPE, 3, seed=1),
            "b_to_a": _conv_translator(B_SHAPE, 1, seed=2),
        }

    def get_config(self):
        return {"image_shape": list(A_SHAPE)}


def _png(image, fmt="PNG"):
    image = np.asarray(image, np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format=fmt)
    return buffer.getvalue()


def _decode(png):
    array = np.asarray(Image.open(io.BytesIO(png)))
    return array[..., None] if array.ndim == 2 else array


def _digits(n, shape=A_SHAPE, seed=0):
    """uint8 test images: random blobs, smooth enough that JPEG keeps them close."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 7, 7, shape[-1])).astype(np.uint8)
    return np.repeat(np.repeat(small, 4, axis=1), 4, axis=2)


def _to_float(pixels):
    return pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def _to_uint8(images):
    return kg.models.to_uint8(images).numpy()


# ----------------------------------------------------------------------------------
# The exports, checked with the TF1 loader.
# ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{name: (model, {direction: keras.Model}, Tf1Model)} under one saved_models folder."""
    root = tmp_path_factory.mktemp("translators")
    out = {"root": root}
    for name, model in (("gray", _conv_translator(A_SHAPE, 1, seed=0)), ("two_way", TwoWay())):
        version = export.export_translator(model, root / name, max_batch_size=8, training={"steps": 0})
        out[name] = (model, export.translators_of(model), Tf1Model(root / name / str(version)))
    return out


def _dtype(name):
    return tf.dtypes.as_dtype(name).as_datatype_enum


@pytest.mark.parametrize("name, directions", [("gray", ("a_to_b",)), ("two_way", ("a_to_b", "b_to_a"))])
def test_signatures_follow_the_contract(exported, name, directions):
    _, translators, model = exported[name]
    image_shape, target_shape = export.translator_shapes(translators)
    expected = contract.translator_signatures(image_shape, target_shape, directions)
    assert set(model.signatures) == set(expected) | {"__saved_model_init_op"}
    for key, signature in expected.items():
        actual = model.signatures[key]
        assert actual.method_name == "tensorflow/serving/predict"
        for specs, infos in ((signature.inputs, actual.inputs), (signature.outputs, actual.outputs)):
            assert set(infos) == {s.name for s in specs}
            for spec in specs:
                info = infos[spec.name]
                assert info.dtype == _dtype(spec.dtype), (key, spec.name)
                assert tuple(None if d.size == -1 else d.size for d in info.tensor_shape.dim) == spec.shape
    card = json.loads((exported["root"] / name / "card.json").read_text())
    assert card["kind"] == "translator" and card["directions"] == list(directions)
    assert card["image_shape"] == list(image_shape) and card["target_shape"] == list(target_shape)
    assert card["max_batch_size"] == 8 and card["latest_version"] == 1
    assert set(card["signatures"]) == set(expected)
    assert card["versions"]["1"]["training"] == {"steps": 0}


@pytest.mark.parametrize("name, direction", [("gray", "a_to_b"), ("two_way", "a_to_b"), ("two_way", "b_to_a")])
def test_tf1_loader_runs_every_signature(exported, name, direction):
    _, translators, model = exported[name]
    network = translators[direction]
    in_shape = tuple(network.input_shape[1:])
    pixels = _digits(3, in_shape)
    x = _to_float(pixels)
    expected = network(x, training=False).numpy()
    key = contract.translate_signature_name(direction)
    np.testing.assert_allclose(model.run(key, images=x), expected, atol=1e-6)
    if direction == "a_to_b":
        np.testing.assert_array_equal(model.run("serving_default", images=x), model.run(key, images=x))

    pngs = model.run(contract.translate_signature_name(direction, png=True),
                     images_bytes=np.array([_png(p) for p in pixels], object))
    assert len(pngs) == 3 and all(p.startswith(b"\x89PNG") for p in pngs)
    decoded = np.stack([_decode(p) for p in pngs])
    np.testing.assert_array_equal(decoded, _to_uint8(model.run(key, images=x)))
    # A JPEG goes in as well; its pixels are the JPEG's.
    jpeg = _png(pixels[0], "JPEG")
    out = model.run(contract.translate_signature_name(direction, png=True), images_bytes=np.array([jpeg], object))
    jpeg_pixels = tf.io.decode_jpeg(jpeg).numpy()
    in_process = _to_uint8(network(_to_float(jpeg_pixels[None]), training=False))[0]
    assert np.abs(_decode(out[0]).astype(int) - in_process.astype(int)).max() <= 1
    # An empty batch is refused (TensorFlow's convolutions mis-shape empty batches).
    with pytest.raises(tf.errors.InvalidArgumentError, match="between 1 and 8 images per request"):
        model.run(contract.translate_signature_name(direction, png=True), images_bytes=np.array([], object))


BAD_PNGS = {
    "not an image": ([b"GIF? no: plain text"], "translate_png: images_bytes[0] is not a PNG or JPEG file (19 bytes"),
    "wrong size": ([_png(np.zeros((28, 28, 1))), _png(np.zeros((32, 30, 1)))],
                   "translate_png: images_bytes[1] is a 32x30 image (height x width); "
                   "expected 28x28 grayscale PNG or JPEG images (1 channel)"),
    "wrong channels": ([_png(np.zeros((28, 28, 3)))],
                       "translate_png: images_bytes[0] has 3 channel(s); expected 28x28 grayscale"),
    "too many": ([_png(np.zeros((28, 28, 1)))] * 9, "translate_png: between 1 and 8 images per request (max_batch_size of this export); got 9"),
}


@pytest.mark.parametrize("case", list(BAD_PNGS))
def test_bad_images_fail_inside_the_graph(exported, case):
    """INVALID_ARGUMENT from the graph itself: TF Serving's binary gives the same message."""
    files, message = BAD_PNGS[case]
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        exported["gray"][2].run("translate_png", images_bytes=np.array(files, object))
    assert message in info.value.message


def test_bad_float_batches_fail_inside_the_graph(exported):
    _, _, model = exported["two_way"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"translate: between 1 and 8 images per request"):
        model.run("translate", images=np.zeros((9, 28, 28, 1), np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"translate_b_to_a_png: images_bytes\[0\] has 1 channel"):
        model.run("translate_b_to_a_png", images_bytes=np.array([_png(np.zeros((28, 28, 1)))], object))
    # TF Serving's C++ session does not check fed shapes against the placeholders (Python's
    # does): fed through an unchecked placeholder, the graph's own check answers.
    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph)
    with graph.as_default():
        unchecked = tf.compat.v1.placeholder(tf.float32, None)
        meta_graph = tf.compat.v1.saved_model.loader.load(
            session, ["serve"], str(exported["root"] / "gray" / "1"),
            input_map={exported["gray"][2].signatures["translate"].inputs["images"].name: unchecked},
        )
    output = meta_graph.signature_def["translate"].outputs["images"].name
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"translate: images must have shape \[n, 28, 28, 1\]; got \[2 32 32 1\]"):
        session.run(output, {unchecked: np.zeros((2, 32, 32, 1), np.float32)})
    assert session.run(output, {unchecked: np.zeros((2, 28, 28, 1), np.float32)}).shape == (2, 28, 28, 1)


def test_versions_card_and_what_cannot_be_exported(tmp_path):
    model = _conv_translator(A_SHAPE, 1, seed=0)
    base = tmp_path / "gray"
    assert export.export_translator(model, base) == 1
    assert export.export_translator(model, base, version=7, metrics={"l1": 0.1}) == 7
    assert export.export_translator(model, base) == 8
    with pytest.raises(FileExistsError, match="Version 7 already exists"):
        export.export_translator(model, base, version=7)
    assert sorted(os.listdir(base)) == ["1", "7", "8", "card.json"]  # no temporary folders
    card = json.loads((base / "card.json").read_text())
    assert card["name"] == "gray" and card["family"] == "Functional" and card["max_batch_size"] == 1024
    assert card["versions"]["7"]["metrics"] == {"l1": 0.1} and "metrics" not in card

    with pytest.raises(TypeError, match="Pix2Pix or CycleGAN"):
        export.export_translator(object(), tmp_path / "x")
    flat = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match=r"input must be a batch of images \[batch, H, W, C\] of known size; got \[None, 4\]"):
        export.export_translator(flat, tmp_path / "x")
    with pytest.raises(ValueError, match="max_batch_size must be an integer >= 1"):
        export.export_translator(model, tmp_path / "x", max_batch_size=0)
    mismatched = TwoWay()
    mismatched.translators["b_to_a"] = _conv_translator(A_SHAPE, 1, seed=3)
    with pytest.raises(ValueError, match=r"b_to_a must map \[28, 28, 3\] to \[28, 28, 1\]"):
        export.export_translator(mismatched, tmp_path / "x")
    assert not (tmp_path / "x").exists() or not os.listdir(tmp_path / "x")


@pytest.mark.parametrize("where", ["mirrored", "mixed_float16"])
def test_export_of_a_translator_built_under_a_strategy_or_mixed_precision(mirrored, tmp_path, where):
    """What `keras-gans train --strategy mirrored --precision mixed_float16 --export` exports."""
    if where == "mirrored":
        with mirrored.scope():
            model = _conv_translator(A_SHAPE, 1, seed=0)
    else:
        with kg.models.precision_scope("mixed_float16"):
            model = _conv_translator(A_SHAPE, 1, seed=0)
        assert model.outputs[0].dtype == "float16"
    version = export.export_translator(model, tmp_path / where)
    reference = Tf1Model(tmp_path / where / str(version))
    info = reference.signatures["translate"].outputs["images"]
    assert info.dtype == tf.float32.as_datatype_enum  # float32 out whatever the policy
    x = _to_float(_digits(2))
    tolerance = 1e-6 if where == "mirrored" else 2e-3
    np.testing.assert_allclose(reference.run("translate", images=x), np.asarray(model(x), np.float32), atol=tolerance)


# ----------------------------------------------------------------------------------
# The embedded server, one process for the module.
# ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(exported, tmp_path_factory):
    root = tmp_path_factory.mktemp("serving_translate")
    srv = Served(root, _free_port(), _free_port())
    shutil.copytree(exported["root"], srv.models)
    # The same version again, with per-model batching parameters: its requests are merged,
    # into batches no larger than the export's max_batch_size (8), which the graph enforces.
    shutil.copytree(srv.models / "gray", srv.models / "gray_batched")
    (srv.models / "gray_batched" / "1" / "batching_params.pbtxt").write_text(
        "max_batch_size { value: 8 }\nbatch_timeout_micros { value: 100000 }\nnum_batch_threads { value: 2 }\n"
    )
    # A model whose next version the end-to-end test trains and exports while it is served.
    export.export_translator(_conv_translator(A_SHAPE, 1, seed=9), srv.models / "trained")
    config_path = root / "models.config"
    config_lib.write_models_config(srv.models, config_path, base_path_prefix=None)
    process, log = _start_server(srv, config_path, root / "server.log",
                                 "--enable_batching", "--enable_per_model_batching_parameters")
    with _running(srv, process, log, ("gray", "two_way", "gray_batched")):
        srv.reference = {name: exported[name][2] for name in ("gray", "two_way")}
        yield srv


def _b64(data):
    return {"b64": base64.b64encode(data).decode("ascii")}


def _grpc_png_request(model, signature, files):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    request.inputs["images_bytes"].CopyFrom(tf.make_tensor_proto(np.array(files, object), tf.string))
    return request


@pytest.mark.parametrize("model, direction", [("gray", "a_to_b"), ("gray_batched", "a_to_b"), ("two_way", "b_to_a")])
def test_translate_png_over_rest_rows_and_columns_and_grpc(served, model, direction):
    signature = contract.translate_signature_name(direction, png=True)
    reference = served.reference["two_way" if model == "two_way" else "gray"]
    in_shape = B_SHAPE if direction == "b_to_a" else A_SHAPE
    files = [_png(p) for p in _digits(3, in_shape, seed=4)]
    expected = list(reference.run(signature, images_bytes=np.array(files, object)))

    rows = served.post(f"/v1/models/{model}:predict",
                       {"signature_name": signature, "instances": [_b64(f) for f in files]})
    assert rows.status_code == 200, rows.text
    assert rows.headers["content-type"] == "application/json"
    body = rows.json()
    assert set(body) == {"predictions"} and all(set(item) == {"b64"} for item in body["predictions"])
    assert [base64.b64decode(item["b64"]) for item in body["predictions"]] == expected
    # Row objects naming the input, and the columnar form with and without the name.
    named_rows = served.post(f"/v1/models/{model}:predict",
                             {"signature_name": signature, "instances": [{"images_bytes": _b64(f)} for f in files]})
    assert [base64.b64decode(i["b64"]) for i in named_rows.json()["predictions"]] == expected
    for inputs in ([_b64(f) for f in files], {"images_bytes": [_b64(f) for f in files]}):
        columns = served.post(f"/v1/models/{model}:predict", {"signature_name": signature, "inputs": inputs})
        assert columns.status_code == 200, columns.text
        assert [base64.b64decode(item["b64"]) for item in columns.json()["outputs"]] == expected

    answer = served.predictions.Predict(_grpc_png_request(model, signature, files), timeout=60)
    assert answer.model_spec.signature_name == signature and answer.model_spec.version.value == 1
    assert answer.outputs["images_bytes"].dtype == tf.string.as_datatype_enum
    assert list(answer.outputs["images_bytes"].string_val) == expected  # raw bytes, not base64


@pytest.mark.parametrize("model, direction", [("gray", "a_to_b"), ("two_way", "a_to_b"), ("two_way", "b_to_a")])
def test_translate_floats_and_the_client(served, model, direction):
    signature = contract.translate_signature_name(direction)
    reference = served.reference[model]
    in_shape = B_SHAPE if direction == "b_to_a" else A_SHAPE
    pixels = _digits(2, in_shape, seed=5)
    x = _to_float(pixels)
    expected = reference.run(signature, images=x)
    xs = x.astype(np.float64).tolist()
    body = {"inputs": xs} if direction == "a_to_b" else {"signature_name": signature, "inputs": xs}
    answer = served.post(f"/v1/models/{model}:predict", body)  # a_to_b: serving_default
    assert answer.status_code == 200, answer.text
    np.testing.assert_array_equal(np.asarray(answer.json()["outputs"], np.float32), expected)
    rows = served.post(f"/v1/models/{model}:predict", {"signature_name": signature, "instances": xs})
    np.testing.assert_array_equal(np.asarray(rows.json()["predictions"], np.float32), expected)

    pngs = list(reference.run(contract.translate_signature_name(direction, png=True),
                              images_bytes=np.array([_png(p) for p in pixels], object)))
    for url in (served.rest, "grpc://" + served.grpc_target):
        with Client(url) as client:
            np.testing.assert_array_equal(client.translate(model, x, direction=direction), expected)
            np.testing.assert_array_equal(client.translate(model, pixels, direction=direction), _to_uint8(expected))
            assert client.translate(model, pixels, direction=direction, png=True) == pngs
            assert client.translate(model, [_png(p) for p in pixels], direction=direction, png=True) == pngs


BAD_REQUESTS = {
    "not an image": ([b"this is not an image"], "images_bytes[0] is not a PNG or JPEG file (20 bytes"),
    "wrong size": ([_png(np.zeros((32, 32, 1)))], "images_bytes[0] is a 32x32 image (height x width); expected 28x28"),
    "wrong channels": ([_png(np.zeros((28, 28, 4)))], "images_bytes[0] has 4 channel(s); expected 28x28 grayscale"),
}


@pytest.mark.parametrize("model", ["gray", "gray_batched"])
@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_images_get_tf_serving_errors_and_the_server_goes_on(served, model, case):
    files, message = BAD_REQUESTS[case]
    good = [_png(_digits(1)[0])]
    expected = list(served.reference["gray"].run("translate_png", images_bytes=np.array(good, object)))

    answer = served.post(f"/v1/models/{model}:predict",
                         {"signature_name": "translate_png", "instances": [_b64(f) for f in files]})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert set(answer.json()) == {"error"} and message in answer.json()["error"]
    with pytest.raises(grpc.RpcError) as info:
        served.predictions.Predict(_grpc_png_request(model, "translate_png", files), timeout=60)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and message in info.value.details()
    with pytest.raises(ServingError) as error:
        Client(served.rest).translate(model, files, png=True)
    assert error.value.code == "INVALID_ARGUMENT" and message in error.value.message

    # The next requests are served as usual.
    ok = served.post(f"/v1/models/{model}:predict", {"signature_name": "translate_png", "inputs": [_b64(good[0])]})
    assert ok.status_code == 200 and base64.b64decode(ok.json()["outputs"][0]["b64"]) == expected[0]
    assert list(served.predictions.Predict(_grpc_png_request(model, "translate_png", good), timeout=60)
                .outputs["images_bytes"].string_val) == expected


def test_malformed_string_requests(served):
    path = "/v1/models/gray:predict"
    bad_b64 = served.post(path, {"signature_name": "translate_png", "instances": [{"b64": "%%%"}]})
    assert bad_b64.status_code == 400 and bad_b64.json() == {
        "error": "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: Unable to base64 decode"
    }
    floats_for_bytes = served.post(path, {"signature_name": "translate_png", "inputs": [1.0]})
    assert floats_for_bytes.status_code == 400
    assert floats_for_bytes.json()["error"].endswith("is not of expected type: string")
    b64_for_floats = served.post(path, {"inputs": [[_b64(b"x")]]})
    assert b64_for_floats.status_code == 400 and "is not of expected type: float" in b64_for_floats.json()["error"]
    wrong_shape = served.post(path, {"inputs": np.zeros((1, 32, 32, 1)).tolist()})
    assert wrong_shape.status_code == 400 and "(None, 28, 28, 1)" in wrong_shape.json()["error"]


def test_metadata_lists_the_string_signatures(served):
    metadata = served.get("/v1/models/two_way/metadata").json()["metadata"]["signature_def"]["signature_def"]
    assert set(metadata) == {"__saved_model_init_op", "serving_default", "translate", "translate_png",
                             "translate_b_to_a", "translate_b_to_a_png"}
    png = metadata["translate_b_to_a_png"]
    assert png["inputs"]["images_bytes"]["dtype"] == "DT_STRING"
    assert png["inputs"]["images_bytes"]["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]
    assert png["outputs"]["images_bytes"]["dtype"] == "DT_STRING"
    dims = [int(d["size"]) for d in metadata["translate_b_to_a"]["inputs"]["images"]["tensor_shape"]["dim"]]
    assert dims == [-1, 28, 28, 3]


def test_concurrent_string_requests_are_batched_and_answered_separately(served):
    reference = served.reference["gray"]
    requests_files = [[_png(p) for p in _digits(1 + i % 3, seed=10 + i)] for i in range(8)]

    def ask(i):
        files = requests_files[i]
        if i % 2:
            answer = served.post("/v1/models/gray_batched:predict",
                                 {"signature_name": "translate_png", "instances": [_b64(f) for f in files]})
            assert answer.status_code == 200, answer.text
            return [base64.b64decode(item["b64"]) for item in answer.json()["predictions"]]
        answer = served.predictions.Predict(_grpc_png_request("gray_batched", "translate_png", files), timeout=60)
        return list(answer.outputs["images_bytes"].string_val)

    before = _merged_batches(served)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    for files, answer in zip(requests_files, answers):
        assert answer == list(reference.run("translate_png", images_bytes=np.array(files, object)))
    batches, rows = (a - b for a, b in zip(_merged_batches(served), before))
    assert rows == sum(len(f) for f in requests_files) and batches < 8  # some requests were merged


def _merged_batches(served):
    page = served.get(METRICS).text.splitlines()
    values = dict(line.rsplit(" ", 1) for line in page if line and not line.startswith("#"))
    prefix = ":keras_gans:serving:batching_session:merged_batch_size"
    return float(values.get(prefix + "_count{}", 0)), float(values.get(prefix + "_sum{}", 0))


def test_translate_command_over_rest_and_grpc(served, tmp_path):
    from keras_gans import cli

    source = tmp_path / "in.png"
    source.write_bytes(_png(_digits(1, B_SHAPE, seed=7)[0]))
    (expected,) = served.reference["two_way"].run("translate_b_to_a_png", images_bytes=np.array([source.read_bytes()], object))
    rest_port, grpc_port = served.rest.rsplit(":", 1)[1], served.grpc_target.rsplit(":", 1)[1]
    for server, flags, out in ((f"127.0.0.1:{rest_port}", [], "rest.png"),
                               (f"127.0.0.1:{grpc_port}", ["--grpc"], "grpc.png"),
                               (served.rest, [], "url.png")):
        assert cli.main(["translate", "--server", server, *flags, "--model", "two_way", "--direction", "b_to_a",
                         str(source), str(tmp_path / out)]) == 0
        assert (tmp_path / out).read_bytes() == expected
    with pytest.raises(SystemExit, match=r"answered INVALID_ARGUMENT: .*translate_png: images_bytes\[0\] has 3 channel"):
        cli.main(["translate", "--server", f"127.0.0.1:{rest_port}", "--model", "two_way", str(source), str(tmp_path / "x.png")])
    with pytest.raises(SystemExit, match="cannot read"):
        cli.main(["translate", "--server", f"127.0.0.1:{rest_port}", "--model", "two_way", str(tmp_path / "none.png"), "o.png"])


@pytest.mark.slow
def test_train_export_serve_and_translate_a_png_end_to_end(served, tmp_path):
    """`keras-gans train pix2pix ... --export` into a served model, then `keras-gans translate`."""
    from keras_gans import cli

    run, base = tmp_path / "run", served.models / "trained"
    done = subprocess.run(
        [sys.executable, "-m", "keras_gans.cli", "train", "pix2pix", "--dataset", "mnist_edges",
         "--mnist", str(SUBSET), "--split", "test", "--width", "4", "--batch-size", "8", "--epochs", "1",
         "--steps-per-epoch", "4", "--seed", "1", "--verbose", "0", "--out", str(run), "--export", str(base)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((run / "run.json").read_text())["exported"] == os.path.relpath(base / "2", run)
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["translations_epoch_0001.png"]
    card = json.loads((base / "card.json").read_text())
    assert card["family"] == "pix2pix" and card["latest_version"] == 2
    assert card["versions"]["2"]["training"]["generator_steps"] == 4

    deadline = time.monotonic() + 60  # the server polls the base path every second
    while served.get("/v1/models/trained/versions/2").status_code != 200:
        assert time.monotonic() < deadline, _server_log(served)
        time.sleep(0.25)
    edges, _, _ = kg.data.mnist_task("mnist_edges", SUBSET, split="test")
    source = tmp_path / "edges.png"
    source.write_bytes(_png(edges[0]))
    reference = Tf1Model(base / "2")
    (expected,) = reference.run("translate_png", images_bytes=np.array([source.read_bytes()], object))
    model = keras.models.load_model(run / "model.keras")
    in_process = _to_uint8(model.translate(edges[:1]))[0]
    assert np.abs(_decode(expected).astype(int) - in_process.astype(int)).max() <= 1
    rest_port, grpc_port = served.rest.rsplit(":", 1)[1], served.grpc_target.rsplit(":", 1)[1]
    for server, flags in ((f"127.0.0.1:{rest_port}", []), (f"127.0.0.1:{grpc_port}", ["--grpc"])):
        out = tmp_path / f"digit{len(flags)}.png"
        assert cli.main(["translate", "--server", server, *flags, "--model", "trained", str(source), str(out)]) == 0
        assert out.read_bytes() == expected


# ----------------------------------------------------------------------------------
# The model classes themselves.
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["pix2pix", "cyclegan"])
def test_export_of_pix2pix_and_cyclegan(tmp_path, family):
    # CycleGAN: identity needs C_a == C_b; the U-Net builds ~10x faster than the ResNet
    # generator, and the exporter sees either as a keras.Model.
    extra = {"identity_weight": 0.0, "generator": "unet"} if family == "cyclegan" else {}
    model = kg.models.get(family)(image_shape=A_SHAPE, target_channels=3, g_width=4, d_width=4, seed=1, **extra)
    version = export.export_translator(model, tmp_path / family)
    reference = Tf1Model(tmp_path / family / str(version))
    directions = ["a_to_b", "b_to_a"] if family == "cyclegan" else ["a_to_b"]
    assert sorted(reference.signatures) == sorted(
        ["__saved_model_init_op", "serving_default"]
        + [contract.translate_signature_name(d, png) for d in directions for png in (False, True)]
    )
    card = json.loads((tmp_path / family / "card.json").read_text())
    assert card["family"] == family and card["directions"] == directions
    assert card["config"]["target_channels"] == 3
    for direction in directions:
        in_shape = A_SHAPE if direction == "a_to_b" else B_SHAPE
        pixels = _digits(2, in_shape, seed=2)
        served = reference.run(contract.translate_signature_name(direction), images=_to_float(pixels))
        np.testing.assert_allclose(served, model.translate(pixels, direction=direction), atol=1e-5)
        (png, _) = reference.run(contract.translate_signature_name(direction, png=True),
                                 images_bytes=np.array([_png(p) for p in pixels], object))
        assert np.abs(_decode(png).astype(int) - _to_uint8(served)[0].astype(int)).max() <= 1


def test_train_refuses_the_flags_of_the_noise_families(tmp_path):
    from keras_gans import cli

    with pytest.raises(SystemExit, match=r"--latent-dim, --d-steps do not apply to cyclegan"):
        cli.main(["train", "cyclegan", "--dataset", "mnist_invert", "--mnist", SUBSET, "--split", "test",
                  "--latent-dim", "3", "--d-steps", "2", "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()
