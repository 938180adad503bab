"""The embedded server's parts in process: JSON tensors, the model manager, the core.

The end-to-end behaviour is in test_serving.py (a real server process); these tests pin
the rules that are cheaper to reach directly: TF Serving's JSON conversions and
response formats, version policies and labels, the availability-preserving unload
policy, and the batching session's input checks.
"""

import json
import shutil

import numpy as np
import pytest

import keras_gans as kg
from keras_gans import export
from keras_gans.serving.errors import ServingError
from keras_gans.serving.server import json_tensor as jt
from keras_gans.serving.server.core import ServingCore
from keras_gans.serving.server.manager import ModelManager


# ----------------------------------------------------------------------------------
# JSON <-> tensors (tensorflow_serving/util/json_tensor.cc).
# ----------------------------------------------------------------------------------
def _error(fn, *args):
    with pytest.raises(ServingError) as info:
        fn(*args)
    return info.value


def test_columnar_and_row_inputs():
    fmt, t = jt.tensors_from_json({"inputs": {"a": 3, "b": [[1.5, 2]], "extra": 1}}, {"a": jt.DT_INT32, "b": jt.DT_FLOAT})
    assert fmt == jt.COLUMNAR and t["a"].shape == () and t["a"].dtype == np.int32
    assert t["b"].dtype == np.float32 and t["b"].tolist() == [[1.5, 2.0]]
    fmt, t = jt.tensors_from_json({"instances": [3, 4]}, {"a": jt.DT_INT64})
    assert fmt == jt.ROW and t["a"].tolist() == [3, 4] and t["a"].dtype == np.int64  # a batch dim is added
    fmt, t = jt.tensors_from_json({"instances": [{"a": [1, 2], "b": "x"}, {"a": [3, 4], "b": "y"}]}, {"a": jt.DT_INT32, "b": jt.DT_STRING})
    assert t["a"].shape == (2, 2) and t["b"].tolist() == [b"x", b"y"]
    _, t = jt.tensors_from_json({"inputs": {"a": []}}, {"a": jt.DT_INT32})
    assert t["a"].shape == (0,)


def test_b64_inputs():
    _, t = jt.tensors_from_json({"inputs": {"b64": "aGk="}}, {"s": jt.DT_STRING})
    assert t["s"].shape == () and t["s"].item() == b"hi"
    _, t = jt.tensors_from_json({"instances": [{"b64": "aGk"}, {"b64": "eW8="}]}, {"s": jt.DT_STRING})
    assert t["s"].tolist() == [b"hi", b"yo"]
    assert "Unable to base64 decode" in _error(jt.tensors_from_json, {"inputs": {"b64": "a$b"}}, {"s": jt.DT_STRING}).message
    e = _error(jt.tensors_from_json, {"inputs": [{"b64": "aGk=", "x": 1}]}, {"s": jt.DT_STRING})
    assert "not formatted correctly for base64 data" in e.message
    e = _error(jt.tensors_from_json, {"inputs": [{"b64": "aGk="}]}, {"f": jt.DT_FLOAT})
    assert "Type: Object is not of expected type: float" in e.message


@pytest.mark.parametrize(
    "doc, inputs, message",
    [
        ({"inputs": [[1, 2], [3]]}, {"a": jt.DT_FLOAT}, "Encountered list at unexpected size: 1 at level: 1 expected size: 2"),
        ({"inputs": [[1, 2], 3]}, {"a": jt.DT_FLOAT}, "found at incorrect level: 2 in the JSON DOM. Expected at level: 2"),
        ({"inputs": [1, [2]]}, {"a": jt.DT_FLOAT}, "Encountered list at unexpected level: 1 expected < 1"),
        ({"inputs": [None]}, {"a": jt.DT_FLOAT}, "JSON Value: null Type: Null is not of expected type: float"),
        ({"inputs": [2**31]}, {"a": jt.DT_INT32}, "Type: Number is not of expected type: int32"),
        ({"inputs": [1e2]}, {"a": jt.DT_INT64}, "JSON Value: 100.0 Type: Number is not of expected type: int64"),
        ({"inputs": [1]}, {"a": jt.DT_BOOL}, "is not of expected type: bool"),
        ({"inputs": [1, 2]}, {"a": jt.DT_FLOAT, "b": jt.DT_FLOAT}, "inputs is a plain value/list, but expecting an object"),
        ({"instances": [[1], {"a": [1]}]}, {"a": jt.DT_FLOAT}, "Expecting value/list but got object at item 1 of input list"),
        ({"instances": [{"a": 1, "b": 1}, [1]]}, {"a": jt.DT_FLOAT, "b": jt.DT_FLOAT}, "Expecting object but got list at item 1"),
        ({"instances": [{"a": 1}]}, {"a": jt.DT_FLOAT, "b": jt.DT_FLOAT}, "keys must be equal to: a,b"),
        ({"instances": [[1, 2], [[1, 2]]]}, {"a": jt.DT_FLOAT}, "Expecting shape [2] but got: [1,2]"),
        ({"instances": {"a": 1}}, {"a": jt.DT_FLOAT}, "Expecting 'instances' to be an list/array"),
    ],
)
def test_input_errors(doc, inputs, message):
    e = _error(jt.tensors_from_json, doc, inputs)
    assert e.code == "INVALID_ARGUMENT" and message in e.message


def test_parsing_like_rapidjson():
    assert jt.parse_json(b'{"a": [NaN, Inf, -Inf, Infinity, -Infinity]} trailing') is not None
    values = jt.parse_json(b'{"a": [NaN, Inf, -Inf]}')["a"]
    assert np.isnan(values[0]) and values[1] == np.inf and values[2] == -np.inf
    assert jt.parse_json(b'{"a": 1}{"b": 2}') == {"a": 1}  # stops after the first value
    assert "The document is empty" in _error(jt.parse_json, b"").message
    assert "JSON Parse error" in _error(jt.parse_json, b'{"a": ').message
    assert _error(jt.parse_json, b'"text"').message == 'JSON Value: "text" Is not object'
    assert "'signature_name' key must be a string value." in _error(jt.signature_name, {"signature_name": None}).message


def test_response_formats():
    images = np.zeros([2, 1, 1], np.float32)
    assert json.loads(jt.json_from_tensors({"images": images}, jt.ROW)) == {"predictions": [[[0.0]], [[0.0]]]}
    assert json.loads(jt.json_from_tensors({"images": images}, jt.COLUMNAR)) == {"outputs": [[[0.0]], [[0.0]]]}
    two = {"a": np.array([1, 2], np.uint8), "b_bytes": np.array([b"x", b"y"], object)}
    assert json.loads(jt.json_from_tensors(two, jt.ROW)) == {
        "predictions": [{"a": 1, "b_bytes": {"b64": "eA=="}}, {"a": 2, "b_bytes": {"b64": "eQ=="}}]
    }
    assert json.loads(jt.json_from_tensors(two, jt.COLUMNAR)) == {
        "outputs": {"a": [1, 2], "b_bytes": [{"b64": "eA=="}, {"b64": "eQ=="}]}
    }
    assert json.loads(jt.json_from_tensors({"s": np.array([b"raw"], object)}, jt.COLUMNAR)) == {"outputs": ["raw"]}
    assert jt.json_from_tensors({"f": np.array([np.nan, np.inf, -np.inf, 0.5], np.float32)}, jt.COLUMNAR) == (
        b'{"outputs":[NaN, Infinity, -Infinity, 0.5]}'
    )
    value = np.float32(0.995628238)
    assert np.float32(json.loads(jt.json_from_tensors({"f": np.array([value])}, jt.ROW))["predictions"][0]) == value
    assert "has no shape information" in _error(jt.json_from_tensors, {"a": np.float32(1)}, jt.ROW).message
    e = _error(jt.json_from_tensors, {"a": np.zeros([2]), "b": np.zeros([3])}, jt.ROW)
    assert "Tensor name: b has inconsistent batch size: 3 expecting: 2" in e.message


# ----------------------------------------------------------------------------------
# The model manager and the core, on real exports.
# ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """A base path with versions 1, 2, 3 of a tiny DCGAN."""
    base = tmp_path_factory.mktemp("models") / "dcgan"
    for seed in (1, 2, 3):
        gan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=4, g_width=4, d_width=4, seed=seed)
        export.export_generator(gan, base, max_num_samples=8)
    return base


def _manager(base, policy="", labels=None, name="dcgan"):
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    labels_text = "".join(f"version_labels {{ key: '{k}' value: {v} }}" for k, v in (labels or {}).items())
    text = f"model_config_list {{ config {{ name: '{name}' base_path: '{base}' {policy} {labels_text} }} }}"
    manager = ModelManager()
    manager.set_config(text_format.Parse(text, model_server_config_pb2.ModelServerConfig()))
    manager.poll()
    return manager


def _available(manager, name="dcgan"):
    return sorted(v for v, s in manager.version_states(name).items() if s.state == "AVAILABLE")


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("", [3]),
        ("model_version_policy { latest { num_versions: 2 } }", [2, 3]),
        ("model_version_policy { all {} }", [1, 2, 3]),
        ("model_version_policy { specific { versions: 1 versions: 7 } }", [1]),
    ],
)
def test_version_policies(versions, policy, expected):
    manager = _manager(versions, policy)
    assert _available(manager) == expected
    assert manager.resolve("dcgan").version == max(expected)
    assert manager.resolve("dcgan", version=expected[0]).version == expected[0]
    e = _error(manager.resolve, "dcgan", 9)
    assert (e.code, e.message) == ("NOT_FOUND", "Servable not found for request: Specific(dcgan, 9)")


def test_labels_and_unknown_models(versions):
    manager = _manager(versions, "model_version_policy { all {} }", labels={"stable": 1, "canary": 3})
    assert manager.resolve("dcgan", label="stable").version == 1
    assert manager.resolve("dcgan", label="canary").version == 3
    e = _error(manager.resolve, "dcgan", None, "beta")
    assert (e.code, e.message) == ("INVALID_ARGUMENT", "Unrecognized servable version label: beta")
    e = _error(manager.resolve, "other", None, "stable")
    assert e.code == "INVALID_ARGUMENT"
    assert _error(manager.resolve, "other").message == "Servable not found for request: Latest(other)"
    assert _error(manager.resolve, "").message == "ModelSpec has no name specified."


def test_a_failed_version_keeps_the_served_one_until_it_is_fixed(versions, tmp_path):
    base = tmp_path / "dcgan"
    shutil.copytree(versions, base)
    manager = _manager(base)
    assert _available(manager) == [3]
    (base / "4").mkdir()
    (base / "4" / "saved_model.pb").write_bytes(b"garbage")
    manager.poll()
    states = manager.version_states("dcgan")
    assert list(states) == [4, 3]  # newest first
    assert states[4].state == "END" and states[4].error_code != "OK" and states[4].error_message
    assert _available(manager) == [3] and manager.resolve("dcgan").version == 3
    manager.poll()  # not retried while its content is unchanged
    assert manager.version_states("dcgan")[4].state == "END"
    # Fixed in place (new content): loaded, and version 3 is retired.
    shutil.rmtree(base / "4")
    shutil.copytree(versions / "2", base / "4")
    manager.poll()
    assert _available(manager) == [4]
    assert manager.version_states("dcgan")[3].state == "END"
    assert manager.version_states("dcgan")[3].error_code == "OK"
    # A removed model stops being served.
    manager.set_config(_empty_config())
    assert _error(manager.resolve, "dcgan").code == "NOT_FOUND"


def _empty_config():
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.SetInParent()
    return config


def test_batching_rejects_scalar_inputs_like_tf_servings_batching_session(versions):
    from tensorflow_serving.apis import predict_pb2

    core = ServingCore(_manager(versions), batching=True)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "dcgan"
    request.model_spec.signature_name = "sample"
    inputs = {"num_samples": np.array(2, np.int32), "seed": np.array(1, np.int64)}
    e = _error(core.predict, request, inputs)
    assert e.message == "Batching Run() input tensors must have at least one dimension"
    request.model_spec.signature_name = ""
    _, name, outputs = core.predict(request, {"z": np.zeros([2, 4], np.float32)})
    assert name == "serving_default" and outputs["images"].shape == (2, 28, 28, 1)


def test_grpc_messages_are_truncated_like_tf_serving():
    import grpc

    from keras_gans.serving.server.grpc_api import _abort

    class Context:
        def abort(self, code, details):
            self.code, self.details = code, details

    context = Context()
    _abort(context, ServingError("INVALID_ARGUMENT", "x" * 2000))
    assert context.code == grpc.StatusCode.INVALID_ARGUMENT
    assert context.details == "x" * 1024 + "...TRUNCATED"
    _abort(context, ServingError("NOT_FOUND", "short"))
    assert (context.code, context.details) == (grpc.StatusCode.NOT_FOUND, "short")


def test_servable_run_plans_agree_with_session_run_past_their_cap(versions, monkeypatch):
    from keras_gans.serving.server import manager as manager_lib

    servable = _manager(versions).resolve("dcgan")
    sample = servable.signature_defs["sample"]
    feeds = {sample.inputs["num_samples"].name: np.array(3, np.int32),
             sample.inputs["seed"].name: np.array(5, np.int64)}
    fetches = {"images": sample.outputs["images"].name}
    expected = servable.session.run(fetches, feed_dict=feeds)["images"]
    monkeypatch.setattr(manager_lib, "_MAX_PLANS", 1)
    first = servable.run(feeds, fetches)["images"]        # made into a plan
    again = servable.run(feeds, fetches)["images"]        # the same plan
    z = {servable.signature_defs["serving_default"].inputs["z"].name: np.zeros([2, 4], np.float32)}
    out = {"images": servable.signature_defs["serving_default"].outputs["images"].name}
    other = servable.run(z, out)["images"]                # past the cap: Session.run
    assert len(servable._plans) == 1
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(again, expected)
    np.testing.assert_array_equal(other, servable.session.run(out, feed_dict=z)["images"])
    bad = {servable.signature_defs["serving_default"].inputs["z"].name: np.zeros([2, 5], np.float32)}
    monkeypatch.setattr(manager_lib, "_MAX_PLANS", 64)
    with pytest.raises(ValueError) as planned:
        servable.run(bad, out)                            # a new plan checks the shape
    with pytest.raises(ValueError) as session_run:
        servable.session.run(out, feed_dict=bad)
    assert str(planned.value) == str(session_run.value)
    assert "Cannot feed value of shape (2, 5)" in str(planned.value)


def _asgi(app, method, path, body=b""):
    """One HTTP request through the ASGI app itself: (status, headers, body)."""
    import asyncio

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"content-length", str(len(body)).encode())]}
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, content = sent
    return start["status"], dict(start["headers"]), content["body"]


def test_a_rest_request_that_hits_a_bug_gets_a_500_and_the_server_keeps_serving(versions, monkeypatch):
    from keras_gans.serving.server.rest import create_app

    core = ServingCore(_manager(versions))
    app = create_app(core)
    body = json.dumps({"signature_name": "sample", "inputs": {"num_samples": 2, "seed": 1}}).encode()
    path = "/v1/models/dcgan:predict"
    predict = core.predict

    def broken(*args, **kwargs):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(core, "predict", broken)
    status, headers, content = _asgi(app, "POST", path, body)
    assert status == 500
    assert json.loads(content) == {"error": "Internal error: broken on purpose"}
    assert headers[b"content-length"] == str(len(content)).encode()
    monkeypatch.setattr(core, "predict", predict)
    status, _, content = _asgi(app, "POST", path, body)
    assert status == 200
    assert np.asarray(json.loads(content)["outputs"]).shape == (2, 28, 28, 1)
