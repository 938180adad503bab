"""keras_gans.pretrained: list, load and card on a saved_models folder, and the shipped generators."""

import json
import shutil

import keras
import numpy as np
import pytest

import keras_gans as kg
from keras_gans import images as images_lib
from keras_gans import pretrained
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A saved_models folder: a DCGAN with its .keras file, a cGAN without, and non-generators."""
    root = tmp_path_factory.mktemp("saved_models")
    dcgan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=5, g_width=4, d_width=4, seed=1)
    dcgan.compile()
    cgan = kg.models.ConditionalGAN(image_shape=(28, 28, 1), num_classes=4, latent_dim=5, g_width=4, d_width=4, seed=2)
    kg.export.export_generator(dcgan, root / "tiny_dcgan", training={"epochs": 0})
    dcgan.save(root / "tiny_dcgan" / "tiny_dcgan.keras")
    kg.export.export_generator(cgan, root / "tiny_cgan", max_num_samples=8)
    (root / "mnist_classifier").mkdir()
    (root / "mnist_classifier" / "classifier.keras").write_bytes(b"not a generator")
    (root / "half_written" / "1").mkdir(parents=True)  # a version folder without saved_model.pb
    return {"root": root, "dcgan": dcgan, "cgan": cgan}


def test_list_names_only_generators(zoo):
    assert pretrained.list(zoo["root"]) == ["tiny_cgan", "tiny_dcgan"]
    assert pretrained.list(zoo["root"] / "missing") == []


def test_saved_models_dir_defaults_to_the_repository_and_follows_the_env_var(zoo, monkeypatch):
    monkeypatch.delenv(pretrained.ENV_VAR, raising=False)
    assert pretrained.saved_models_dir() == ROOT / "saved_models"
    monkeypatch.setenv(pretrained.ENV_VAR, str(zoo["root"]))
    assert pretrained.saved_models_dir() == zoo["root"]
    assert pretrained.list() == ["tiny_cgan", "tiny_dcgan"]
    assert pretrained.card("tiny_dcgan")["training"] == {"epochs": 0}


def test_load_prefers_the_keras_file(zoo):
    gan = pretrained.load("tiny_dcgan", zoo["root"])
    assert isinstance(gan, kg.models.DCGAN)
    assert gan.d_optimizer is not None  # compiled: ready to fit further
    images = gan.sample(3, seed=7)
    assert images.dtype == np.float32 and images.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(images, zoo["dcgan"].sample(3, seed=7))


def test_saved_model_wrapper_samples_like_the_gan(zoo):
    g = pretrained.load("tiny_dcgan", zoo["root"], format="saved_model")
    assert isinstance(g, pretrained.SavedModelGenerator)
    assert (g.version, g.latent_dim, g.image_shape, g.conditional) == (1, 5, (28, 28, 1), False)
    images = g.sample(3, seed=7)
    assert images.dtype == np.float32 and images.min() >= -1 and images.max() <= 1
    np.testing.assert_allclose(images, zoo["dcgan"].sample(3, seed=7), atol=1e-6)
    # Quantized, they are what a server's `sample` signature returns for the seed.
    served = g.signatures["sample"](num_samples=np.int32(3), seed=np.int64(7))["images"].numpy()
    np.testing.assert_array_equal(images_lib.to_uint8(images), served)
    with pytest.raises(ValueError, match="unconditional"):
        g.sample(2, seed=0, labels=[0, 1])


def test_conditional_saved_model_takes_labels_and_chunks(zoo):
    g = pretrained.load("tiny_cgan", zoo["root"])  # no .keras file: the SavedModel
    assert isinstance(g, pretrained.SavedModelGenerator) and g.num_classes == 4
    labels = [3, 0, 2, 1, 1]
    np.testing.assert_allclose(g.sample(5, seed=2, labels=labels), zoo["cgan"].sample(5, seed=2, labels=labels), atol=1e-6)
    # No labels: the classes in turn, as GAN.sample; 11 samples > max_num_samples=8 run in chunks.
    np.testing.assert_allclose(g.sample(11, seed=4), zoo["cgan"].sample(11, seed=4), atol=1e-6)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):
        g.sample(2, seed=0, labels=[0, 4])


def test_unknown_names_versions_and_formats_are_clear_errors(zoo):
    with pytest.raises(ValueError, match="Unknown pretrained generator 'nope'.*tiny_cgan, tiny_dcgan"):
        pretrained.load("nope", zoo["root"])
    with pytest.raises(ValueError, match="Unknown pretrained generator 'mnist_classifier'"):
        pretrained.card("mnist_classifier", zoo["root"])
    with pytest.raises(ValueError, match=r"no version 9; it has \[1\]"):
        pretrained.load("tiny_dcgan", zoo["root"], version=9)
    with pytest.raises(ValueError, match="ships no .keras file"):
        pretrained.load("tiny_cgan", zoo["root"], format="keras")
    with pytest.raises(ValueError, match="format must be one of"):
        pretrained.load("tiny_cgan", zoo["root"], format="onnx")


def test_card_is_the_exported_card(zoo, tmp_path):
    card = pretrained.card("tiny_cgan", zoo["root"])
    assert card["family"] == "cgan" and card["num_classes"] == 4 and card["latest_version"] == 1
    copy = tmp_path / "zoo"
    shutil.copytree(zoo["root"] / "tiny_cgan", copy / "tiny_cgan")
    (copy / "tiny_cgan" / "card.json").unlink()
    assert pretrained.card("tiny_cgan", copy) == {}


SHIPPED = pretrained.list(ROOT / "saved_models")


@pytest.mark.skipif(not SHIPPED, reason="no generators shipped in saved_models/ yet")
@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_generator_loads_and_samples(name):
    g = pretrained.load(name, ROOT / "saved_models")
    conditional = bool(getattr(g, "num_classes", None))
    images = g.sample(4, seed=0, labels=[0, 1, 2, 3] if conditional else None)
    assert images.shape == (4, *tuple(g.image_shape)) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1
    card = pretrained.card(name, ROOT / "saved_models")
    assert card.get("family"), f"{name} has no card.json with its family"
    json.dumps(card)  # a plain JSON document
    assert isinstance(g, (keras.Model, pretrained.SavedModelGenerator))
