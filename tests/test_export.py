"""Exports checked the way TensorFlow Serving loads them.

Every family is exported once (tiny widths) and loaded with the TF1 session loader,
`tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)`, the Python twin of TF
Serving's C++ loader: each SignatureDef runs by its tensor names and must agree with
the serving contract of `keras_gans.contract` and with in-process generation.
"""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import keras_gans as kg
from keras_gans import contract, export
from keras_gans.models.sampling import latent_from_seed, to_uint8

TINY = dict(image_shape=(28, 28, 1), latent_dim=4, g_width=4, d_width=4, seed=3)
TOY = dict(image_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,), seed=3)
FAMILIES = {
    "vanilla": (kg.models.VanillaGAN, dict(image_shape=(28, 28, 1), latent_dim=4, g_hidden=(8,), d_hidden=(8,), seed=3)),
    "dcgan": (kg.models.DCGAN, TINY),
    "cgan": (kg.models.ConditionalGAN, dict(TINY, num_classes=3)),
    "wgan": (kg.models.WGAN, TINY),
    "wgan_gp": (kg.models.WGANGP, TINY),
    "toy": (kg.models.WGANGP, TOY),
    "toy_cgan": (kg.models.ConditionalGAN, dict(TOY, num_classes=3)),
}
MAX_NUM_SAMPLES = 8


def _build(name):
    cls, kwargs = FAMILIES[name]
    return cls(**kwargs)


class Tf1Model:
    """A SavedModel loaded as TF Serving does: a graph, a session, SignatureDefs by name."""

    def __init__(self, path):
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], path)
        self.signatures = dict(meta_graph.signature_def)

    def run(self, signature_name, **inputs):
        signature = self.signatures[signature_name]
        feeds = {signature.inputs[k].name: v for k, v in inputs.items()}
        fetches = {k: info.name for k, info in signature.outputs.items()}
        return self.session.run(fetches, feeds)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{family: (gan, version path, Tf1Model)}, each family exported once."""
    root = tmp_path_factory.mktemp("saved_models")
    out = {}
    for name in FAMILIES:
        gan = _build(name)
        version = export.export_generator(
            gan, root / name, max_num_samples=MAX_NUM_SAMPLES, training={"epochs": 0, "data": "none"}
        )
        path = str(root / name / str(version))
        out[name] = (gan, path, Tf1Model(path))
    return out


def _dtype(name):
    return tf.dtypes.as_dtype(name).as_datatype_enum


@pytest.mark.parametrize("family", list(FAMILIES))
def test_signatures_follow_the_contract(exported, family):
    gan, path, model = exported[family]
    expected = contract.serving_signatures(gan.latent_dim, gan.image_shape, gan.num_classes)
    assert set(model.signatures) == set(expected) | {"__saved_model_init_op"}
    assert ("sample_png" in expected) == (len(gan.image_shape) == 3)
    for name, signature in expected.items():
        actual = model.signatures[name]
        assert actual.method_name == "tensorflow/serving/predict"
        for specs, infos in ((signature.inputs, actual.inputs), (signature.outputs, actual.outputs)):
            assert set(infos) == {s.name for s in specs}
            for spec in specs:
                info = infos[spec.name]
                assert info.dtype == _dtype(spec.dtype), (name, spec.name)
                dims = tuple(None if d.size == -1 else d.size for d in info.tensor_shape.dim)
                assert dims == spec.shape, (name, spec.name)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_tf1_loader_runs_every_signature(exported, family):
    gan, path, model = exported[family]
    n, seed = 5, 7
    conditional = gan.num_classes is not None
    labels = np.array([2, 0, 1, 1, 2], np.int32) if conditional else None
    extra = {"labels": labels} if conditional else {}

    z = latent_from_seed(n, gan.latent_dim, seed).numpy()
    served = model.run("serving_default", z=z, **extra)["images"]
    expected = (gan.generate(tf.constant(z), labels) if conditional else gan.generate(tf.constant(z))).numpy()
    assert served.dtype == np.float32 and served.shape == (n,) + gan.image_shape
    np.testing.assert_allclose(served, expected, atol=1e-5)

    sampled = model.run("sample", num_samples=n, seed=seed, **extra)["images"]
    reference = gan.sample(n, seed=seed, labels=labels)
    if len(gan.image_shape) == 3:
        assert sampled.dtype == np.uint8
        assert np.abs(sampled.astype(int) - to_uint8(reference).numpy().astype(int)).max() <= 1
        pngs = model.run("sample_png", num_samples=n, seed=seed, **extra)["images_bytes"]
        decoded = np.stack([np.asarray(Image.open(io.BytesIO(p))) for p in pngs])
        np.testing.assert_array_equal(decoded.reshape(sampled.shape), sampled)
    else:  # points of a toy mixture stay float32
        assert sampled.dtype == np.float32
        np.testing.assert_allclose(sampled, reference, atol=1e-5)

    # The TF2 loader runs the same graph: identical bits.
    loaded = tf.saved_model.load(path)
    tf2 = loaded.signatures["sample"](
        num_samples=tf.constant(n), seed=tf.constant(seed, tf.int64), **{k: tf.constant(v) for k, v in extra.items()}
    )["images"].numpy()
    np.testing.assert_array_equal(tf2, sampled)


def test_empty_labels_take_the_classes_in_turn(exported):
    gan, _, model = exported["cgan"]
    sampled = model.run("sample", num_samples=4, seed=3, labels=np.zeros([0], np.int32))["images"]
    explicit = model.run("sample", num_samples=4, seed=3, labels=np.array([0, 1, 2, 0], np.int32))["images"]
    np.testing.assert_array_equal(sampled, explicit)
    assert np.abs(sampled.astype(int) - to_uint8(gan.sample(4, seed=3)).numpy().astype(int)).max() <= 1


@pytest.mark.parametrize(
    "num_samples, labels, message",
    [
        (0, [], "num_samples must be between 1 and 8 (max_num_samples of this export); got 0"),
        (-3, [], "got -3"),
        (MAX_NUM_SAMPLES + 1, [], "num_samples must be between 1 and 8"),
        (10**6, [], "num_samples must be between 1 and 8"),
        (2, [0, 3], "labels must be class ids in [0, 3); got [3]"),
        (2, [-1, 1], "got [-1]"),
        (3, [0, 1], "got 2 labels for 3"),
    ],
)
def test_bad_sample_requests_fail_inside_the_graph(exported, num_samples, labels, message):
    """INVALID_ARGUMENT from the graph itself: TF Serving's binary enforces the same limits."""
    _, _, model = exported["cgan"]
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        model.run("sample", num_samples=num_samples, seed=1, labels=np.asarray(labels, np.int32))
    assert message in info.value.message


def test_bad_serving_default_requests(exported):
    gan, _, model = exported["cgan"]
    z = np.zeros([2, gan.latent_dim], np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        model.run("serving_default", z=z, labels=np.array([0, 7], np.int32))
    assert "labels must be class ids in [0, 3); got [7]" in info.value.message
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        model.run("serving_default", z=np.zeros([9, gan.latent_dim], np.float32), labels=np.zeros([9], np.int32))
    assert "z must have at most 8 rows" in info.value.message


def test_versions_card_and_immutability(tmp_path):
    gan = _build("cgan")
    base = tmp_path / "cgan_mnist"
    assert export.export_generator(gan, base, training={"epochs": 3}, metrics={"fid": 1.5}) == 1
    assert export.export_generator(gan, base) == 2
    assert export.export_generator(gan, base, version=10) == 10
    assert export.export_generator(gan, base) == 11
    with pytest.raises(FileExistsError, match="Version 2 already exists"):
        export.export_generator(gan, base, version=2)
    card = json.loads((base / "card.json").read_text())
    assert card["name"] == "cgan_mnist" and card["family"] == "cgan"
    assert card["latent_dim"] == 4 and card["num_classes"] == 3
    assert card["image_shape"] == [28, 28, 1] and card["max_num_samples"] == 1024
    assert card["latest_version"] == 11 and sorted(card["versions"], key=int) == ["1", "2", "10", "11"]
    assert card["versions"]["1"]["training"] == {"epochs": 3}
    assert card["versions"]["1"]["metrics"] == {"fid": 1.5}
    # The top level describes the latest version: version 1's numbers do not stand for 11.
    assert "training" not in card and "metrics" not in card
    assert export.export_generator(gan, base, training={"epochs": 5}) == 12
    assert export.export_generator(gan, base, version=5, metrics={"fid": 9.0}) == 5
    card = json.loads((base / "card.json").read_text())
    assert card["training"] == {"epochs": 5} and "metrics" not in card
    assert card["versions"]["5"]["metrics"] == {"fid": 9.0}
    assert set(card["signatures"]) == {"serving_default", "sample", "sample_png"}
    assert card["signatures"]["sample"]["inputs"]["labels"] == {"dtype": "int32", "shape": [None]}
    # Only versions and the card: no temporary folders left behind.
    assert sorted(os.listdir(base)) == ["1", "10", "11", "12", "2", "5", "card.json"]


def test_a_failed_export_leaves_no_version_behind(tmp_path, monkeypatch):
    gan = _build("dcgan")
    base = tmp_path / "dcgan"
    export.export_generator(gan, base)
    real_save = tf.saved_model.save

    def crash_midway(obj, path, *args, **kwargs):
        real_save(obj, path, *args, **kwargs)  # a complete-looking folder...
        raise OSError("disk full")  # ...then the export dies before the rename

    monkeypatch.setattr(tf.saved_model, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        export.export_generator(gan, base)
    assert sorted(os.listdir(base)) == ["1", "card.json"]
    assert Tf1Model(str(base / "1")).run("sample", num_samples=1, seed=0)["images"].shape == (1, 28, 28, 1)


def test_export_rejects_what_it_cannot_export(tmp_path):
    with pytest.raises(TypeError, match="lacks generator"):
        export.export_generator(object(), tmp_path / "x")
    with pytest.raises(ValueError, match="max_num_samples must be an integer >= 1"):
        export.export_generator(_build("dcgan"), tmp_path / "x", max_num_samples=0)
    with pytest.raises(ValueError, match="version must be an integer >= 0"):
        export.export_generator(_build("dcgan"), tmp_path / "x", version="3")


@pytest.mark.slow
def test_saved_model_cli_lists_the_signatures(exported):
    """`saved_model_cli show --all`, the tool TF Serving's docs use to inspect exports."""
    _, path, _ = exported["cgan"]
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run(
        [cli, "show", "--all", "--dir", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES=""),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for name in ("serving_default", "sample", "sample_png"):
        assert f"signature_def['{name}']:" in out
    blocks = {b.split("']:")[0]: b for b in out.split("signature_def['")[1:]}
    assert "inputs['z'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, 4)" in blocks["serving_default"]
    assert "outputs['images'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, 28, 28, 1)" in blocks["serving_default"]
    assert "inputs['num_samples'] tensor_info:\n        dtype: DT_INT32\n        shape: ()" in blocks["sample"]
    assert "inputs['seed'] tensor_info:\n        dtype: DT_INT64\n        shape: ()" in blocks["sample"]
    assert "inputs['labels'] tensor_info:\n        dtype: DT_INT32\n        shape: (-1)" in blocks["sample"]
    assert "outputs['images'] tensor_info:\n        dtype: DT_UINT8\n        shape: (-1, 28, 28, 1)" in blocks["sample"]
    assert "outputs['images_bytes'] tensor_info:\n        dtype: DT_STRING\n        shape: (-1)" in blocks["sample_png"]


@pytest.mark.parametrize("inside_scope", [False, True])
def test_export_of_a_generator_built_under_a_strategy(mirrored, tmp_path, inside_scope):
    """`keras-gans train --export` exports the model it trained with tf.distribute."""
    with mirrored.scope():
        gan = _build("cgan")
    if inside_scope:
        with mirrored.scope():
            version = export.export_generator(gan, tmp_path / "cgan")
    else:
        version = export.export_generator(gan, tmp_path / "cgan")
    model = Tf1Model(str(tmp_path / "cgan" / str(version)))
    sampled = model.run("sample", num_samples=3, seed=5, labels=np.array([0, 1, 2], np.int32))["images"]
    expected = to_uint8(gan.sample(3, seed=5, labels=[0, 1, 2])).numpy()
    assert np.abs(sampled.astype(int) - expected.astype(int)).max() <= 1
