"""One generator interface: an in-process GAN, its SavedModel and a server give the same images.

The server is the embedded one (its core, gRPC and REST) in this process, on loopback.
"""

import socket
import threading
import time

import numpy as np
import pytest

import keras_gans as kg
from keras_gans import generators
from keras_gans.serving.client import Client

LABELS = [2, 0, 1, 2]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A tiny DCGAN and cGAN, exported, and served over gRPC and REST on loopback."""
    import tensorflow as tf
    import uvicorn

    from keras_gans.serving.server import config as config_lib
    from keras_gans.serving.server.core import ServingCore
    from keras_gans.serving.server.grpc_api import create_grpc_server
    from keras_gans.serving.server.manager import ModelManager
    from keras_gans.serving.server.rest import create_app

    root = tmp_path_factory.mktemp("generators_zoo")
    gans = {
        "dcgan": kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=6, g_width=4, d_width=4, seed=3),
        "cgan": kg.models.ConditionalGAN(image_shape=(28, 28, 1), num_classes=3, latent_dim=6, g_width=4, d_width=4, seed=4),
    }
    for name, gan in gans.items():
        kg.export.export_generator(gan, root / name)
    manager = ModelManager(tf.compat.v1.ConfigProto())
    manager.set_config(config_lib.write_models_config(root, root / "models.config", base_path_prefix=None))
    manager.poll()
    core = ServingCore(manager)
    grpc_port, rest_port = _free_port(), _free_port()
    grpc_server = create_grpc_server(core, grpc_port, host="127.0.0.1")
    grpc_server.start()
    rest = uvicorn.Server(uvicorn.Config(create_app(core), host="127.0.0.1", port=rest_port, log_level="warning",
                                         access_log=False, lifespan="off", http="h11", loop="asyncio"))
    thread = threading.Thread(target=rest.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not rest.started and time.monotonic() < deadline:
        time.sleep(0.05)
    clients = {"rest": Client(f"http://127.0.0.1:{rest_port}"), "grpc": Client(f"grpc://127.0.0.1:{grpc_port}")}
    try:
        yield {"root": root, "gans": gans, "clients": clients}
    finally:
        for client in clients.values():
            client.close()
        rest.should_exit = True
        thread.join(timeout=10)
        grpc_server.stop(grace=None)
        manager.stop()


def _kinds(zoo, name, num_classes=None):
    """The same generator as each kind: the GAN, its SavedModel, and the server over REST and gRPC."""
    return {
        "gan": generators.as_generator(zoo["gans"][name]),
        "saved_model": generators.as_generator(zoo["root"] / name),
        "rest": generators.as_generator((zoo["clients"]["rest"], name), num_classes=num_classes),
        "grpc": generators.as_generator(zoo["clients"]["grpc"], model=name, num_classes=num_classes),
    }


@pytest.mark.parametrize("name, labels", [("dcgan", None), ("cgan", LABELS), ("cgan", None)])
def test_every_kind_gives_the_same_images_for_a_seed(zoo, name, labels):
    kinds = _kinds(zoo, name)
    expected = zoo["gans"][name].sample(4, seed=7, labels=labels)
    for kind, gen in kinds.items():
        assert (gen.latent_dim, gen.conditional, gen.image_shape) == (6, name == "cgan", (28, 28, 1)), kind
        images = gen.sample(4, seed=7, labels=labels)
        assert images.dtype == np.float32 and images.shape == (4, 28, 28, 1), kind
        np.testing.assert_allclose(images, expected, atol=1e-5, err_msg=kind)
        z = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
        z_labels = None if labels is None else labels[:3]
        np.testing.assert_allclose(gen.generate(z, z_labels), kinds["gan"].generate(z, z_labels), atol=1e-5, err_msg=kind)
    # As served (uint8): the SavedModel's `sample` signature here and over both protocols.
    served = kinds["saved_model"].sample_uint8(4, seed=7, labels=labels)
    assert served.dtype == np.uint8
    for kind in ("rest", "grpc"):
        np.testing.assert_array_equal(kinds[kind].sample_uint8(4, seed=7, labels=labels), served)
    in_process = kinds["gan"].sample_uint8(4, seed=7, labels=labels).astype(int)
    assert np.abs(in_process - served.astype(int)).max() <= 1


def test_one_label_check_gives_one_error_for_every_kind(zoo):
    for kind, gen in _kinds(zoo, "cgan", num_classes=3).items():
        for call in (lambda **kw: gen.sample(4, seed=1, **kw), lambda **kw: gen.generate(np.zeros((4, 6)), **kw)):
            with pytest.raises(ValueError, match=r"^labels must be in \[0, 3\); got \[3, 7\]\.$"):
                call(labels=[7, 0, 3, 1])
            with pytest.raises(ValueError, match=r"^labels must be 4 integer class ids; got int64 array of shape \(2,\)\.$"):
                call(labels=np.array([0, 1]))
            with pytest.raises(ValueError, match=r"^labels must be 4 integer class ids; got float64"):
                call(labels=[0.5, 1.0, 2.0, 0.0])
        with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
            gen.sample_uint8(2, seed=1, labels=[0, 5])
    for kind, gen in _kinds(zoo, "dcgan").items():
        with pytest.raises(ValueError, match=r"is unconditional; it takes no labels\.$"):
            gen.sample(2, seed=1, labels=[0, 1])
        with pytest.raises(ValueError, match=r"is unconditional; it takes no labels\.$"):
            gen.generate(np.zeros((2, 6)), labels=[0, 1])
    # A server does not state its classes: without num_classes it checks the range itself.
    unknown = generators.as_generator(zoo["clients"]["grpc"], model="cgan")
    assert unknown.num_classes is None
    with pytest.raises(kg.serving.errors.ServingError, match=r"labels must be class ids in \[0, 3\); got \[7\]"):
        unknown.sample(2, seed=1, labels=[0, 7])


def test_as_generator_takes_every_source(zoo, tmp_path):
    import tensorflow as tf

    gan = zoo["gans"]["cgan"]
    expected = gan.sample(3, seed=5, labels=[0, 1, 2])
    gan.save(tmp_path / "cgan.keras")
    run = tmp_path / "run"
    run.mkdir()
    gan.save(run / "model.keras")
    sources = {
        "version folder": zoo["root"] / "cgan" / "1",
        "base path (str)": str(zoo["root"] / "cgan"),
        "loaded SavedModel": tf.saved_model.load(str(zoo["root"] / "cgan" / "1")),
        ".keras file": tmp_path / "cgan.keras",
        "run folder": run,
        "pretrained": kg.pretrained.load("cgan", saved_models_dir=zoo["root"]),
    }
    for what, source in sources.items():
        gen = generators.as_generator(source)
        np.testing.assert_allclose(gen.sample(3, seed=5, labels=[0, 1, 2]), expected, atol=1e-5, err_msg=what)
    zoo_name = generators.as_generator("cgan", saved_models_dir=zoo["root"])
    assert (zoo_name.kind, zoo_name.version, zoo_name.path) == ("saved_model", 1, zoo["root"] / "cgan" / "1")
    assert generators.as_generator(zoo_name) is zoo_name
    assert generators.as_generator(tmp_path / "cgan.keras").kind == "keras"
    with pytest.raises(ValueError, match=r"Unknown pretrained generator 'nope'\. Available in .*: cgan, dcgan\."):
        generators.as_generator("nope", saved_models_dir=zoo["root"])
    with pytest.raises(ValueError, match="does not exist"):
        generators.as_generator(str(tmp_path / "missing" / "x"))
    with pytest.raises(ValueError, match="needs model="):
        generators.as_generator(zoo["clients"]["rest"])
    with pytest.raises(TypeError, match="cannot generate from a int"):
        generators.as_generator(3)
