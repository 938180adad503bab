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


# ----- presets: a zoo name, a local path, a remote handle ----------------------------


def test_from_preset_on_a_family_checks_the_class(zoo):
    gan = kg.models.DCGAN.from_preset("tiny_dcgan", saved_models_dir=zoo["root"])
    assert type(gan) is kg.models.DCGAN and gan.d_optimizer is not None  # compiled, ready to fit
    np.testing.assert_array_equal(gan.sample(2, seed=3), zoo["dcgan"].sample(2, seed=3))
    assert type(kg.models.GAN.from_preset("tiny_dcgan", saved_models_dir=zoo["root"])) is kg.models.DCGAN
    with pytest.raises(ValueError, match="'tiny_dcgan' is a DCGAN, not a WGAN"):
        kg.models.WGAN.from_preset("tiny_dcgan", saved_models_dir=zoo["root"])
    with pytest.raises(ValueError, match="tiny_cgan ships no .keras file"):
        kg.models.ConditionalGAN.from_preset(zoo["root"] / "tiny_cgan")


def test_load_takes_local_paths_of_every_kind(zoo, tmp_path):
    keras_file = zoo["root"] / "tiny_dcgan" / "tiny_dcgan.keras"
    expected = zoo["dcgan"].sample(2, seed=3)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(keras_file, run / "model.keras")  # a keras-gans train run folder
    for preset in (keras_file, str(keras_file), zoo["root"] / "tiny_dcgan", run):
        gan = pretrained.load(preset)
        assert isinstance(gan, kg.models.DCGAN), preset
        np.testing.assert_array_equal(gan.sample(2, seed=3), expected)
    exported = pretrained.load(zoo["root"] / "tiny_dcgan", format="saved_model")
    assert isinstance(exported, pretrained.SavedModelGenerator)
    version = pretrained.load(zoo["root"] / "tiny_cgan" / "1")  # a version folder
    assert isinstance(version, pretrained.SavedModelGenerator) and version.num_classes == 4
    with pytest.raises(ValueError, match="holds neither a .keras model nor a SavedModel version"):
        pretrained.load(zoo["root"] / "half_written")
    with pytest.raises(ValueError, match="is a .keras file; it has no SavedModel versions"):
        pretrained.load(keras_file, version=1)


def test_a_remote_preset_that_cannot_be_fetched_is_a_clear_error():
    # Offline here: a URL on a closed loopback port, and an hf:// handle without the
    # huggingface_hub package Keras fetches it with.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ValueError, match=f"Could not download the preset http://127.0.0.1:{port}/dcgan.keras"):
        pretrained.load(f"http://127.0.0.1:{port}/dcgan.keras")
    with pytest.raises(ValueError, match="must name a .keras file"):
        pretrained.load("https://127.0.0.1/models/dcgan")
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="Could not load the preset hf://keras-gans/dcgan_mnist"):
            kg.models.DCGAN.from_preset("hf://keras-gans/dcgan_mnist")


def test_translators_are_listed_and_loaded_apart_from_generators(zoo, tmp_path):
    from keras_gans import generators

    root = tmp_path / "zoo"
    shutil.copytree(zoo["root"], root)
    p2p = kg.models.Pix2Pix(g_width=4, d_width=4, depth=2, seed=3)
    kg.export.export_translator(p2p, root / "tiny_p2p")
    assert pretrained.list(root) == ["tiny_cgan", "tiny_dcgan"]  # generators, as before
    assert pretrained.list(root, kind="translator") == ["tiny_p2p"]
    assert pretrained.list(root, kind="all") == ["tiny_cgan", "tiny_dcgan", "tiny_p2p"]
    assert (pretrained.kind("tiny_p2p", root), pretrained.kind("tiny_dcgan", root)) == ("translator", "generator")
    edges = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1)).astype(np.uint8)
    exported = pretrained.load("tiny_p2p", root)  # no .keras file: the latest SavedModel
    assert isinstance(exported, pretrained.SavedModelTranslator) and exported.directions == ("a_to_b",)
    np.testing.assert_allclose(exported.translate(edges), p2p.translate(edges), atol=1e-5)
    p2p.save(root / "tiny_p2p" / "tiny_p2p.keras")
    assert isinstance(pretrained.load("tiny_p2p", root), kg.models.Pix2Pix)
    with pytest.raises(ValueError, match="is an image-to-image translator"):
        generators.as_generator(root / "tiny_p2p" / "1")
    with pytest.raises(ValueError, match="is a generator, not an image-to-image translator"):
        generators.as_translator(root / "tiny_dcgan")
    with pytest.raises(ValueError, match="translates in the direction"):
        exported.translate(edges, "b_to_a")
