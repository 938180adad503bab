"""Latent-space exploration: interpolation and vector arithmetic, from a GAN, a SavedModel and a server."""

import socket

import numpy as np
import pytest
from PIL import Image

import keras_gans as kg
from keras_gans import cli
from keras_gans import images as images_lib
from keras_gans import latent

TILE = 28 + 2  # a grid tile: image and padding


@pytest.fixture(scope="module")
def gans(tmp_path_factory):
    """A tiny DCGAN and cGAN (untrained: any weights show the plumbing) and their exports."""
    root = tmp_path_factory.mktemp("latent_models")
    dcgan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=6, g_width=4, d_width=4, seed=3)
    cgan = kg.models.ConditionalGAN(image_shape=(28, 28, 1), num_classes=3, latent_dim=6, g_width=4, d_width=4, seed=4)
    kg.export.export_generator(dcgan, root / "dcgan")
    kg.export.export_generator(cgan, root / "cgan")
    return {"dcgan": dcgan, "cgan": cgan, "root": root}


# ----------------------------------------------------------------------------- pure functions


def test_lerp_end_points_and_even_steps():
    z0, z1 = np.array([0.0, 2.0]), np.array([4.0, -2.0])
    path = latent.lerp(z0, z1, steps=5)
    assert path.shape == (5, 2) and path.dtype == np.float32
    np.testing.assert_array_equal(path[0], z0)
    np.testing.assert_array_equal(path[-1], z1)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile([[1.0, -1.0]], (4, 1)))


def test_slerp_keeps_the_norm_and_steps_evenly_in_angle():
    rng = np.random.default_rng(0)
    z0, z1 = rng.normal(size=100), rng.normal(size=100)
    z1 *= np.linalg.norm(z0) / np.linalg.norm(z1)  # equal norms: slerp stays on that sphere
    path = latent.slerp(z0, z1, steps=9)
    np.testing.assert_array_equal(path[0], z0.astype(np.float32))
    np.testing.assert_array_equal(path[-1], z1.astype(np.float32))
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(z0), rtol=1e-5)
    unit = path / np.linalg.norm(path, axis=1, keepdims=True)
    angles = np.arccos(np.clip(np.sum(unit[:-1] * unit[1:], axis=1), -1, 1))
    np.testing.assert_allclose(angles, angles[0], rtol=1e-3)
    # The straight line cuts inside the sphere where N(0, I) has almost no mass.
    midpoint = latent.lerp(z0, z1, steps=3)[1]
    assert np.linalg.norm(midpoint) < 0.85 * np.linalg.norm(z0)


def test_slerp_of_gaussian_points_stays_near_their_norms():
    rng = np.random.default_rng(1)
    z0, z1 = rng.normal(size=(4, 128)), rng.normal(size=(4, 128))  # a batch: row by row
    path = latent.slerp(z0, z1, steps=7)
    assert path.shape == (4, 7, 128)
    norms = np.linalg.norm(path, axis=-1)
    low = np.minimum(np.linalg.norm(z0, axis=1), np.linalg.norm(z1, axis=1))[:, None]
    high = np.maximum(np.linalg.norm(z0, axis=1), np.linalg.norm(z1, axis=1))[:, None]
    assert np.all(norms >= 0.99 * low) and np.all(norms <= 1.01 * high)


def test_slerp_of_parallel_points_falls_back_to_lerp():
    z = np.array([1.0, 2.0, 3.0])
    path = latent.slerp(z, 2 * z, steps=3)
    assert np.all(np.isfinite(path))
    np.testing.assert_allclose(path[1], 1.5 * z)


def test_interpolate_rejects_unknown_methods_and_bad_shapes():
    with pytest.raises(ValueError, match="known: linear, slerp"):
        latent.interpolate(np.zeros(2), np.ones(2), method="cubic")
    with pytest.raises(ValueError, match="one shape"):
        latent.lerp(np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match="steps must be an integer >= 2"):
        latent.slerp(np.zeros(2), np.ones(2), steps=1)


def test_arithmetic_averages_each_operand():
    a = np.array([[1.0, 1.0], [3.0, 3.0]])  # mean (2, 2)
    np.testing.assert_allclose(latent.arithmetic(a, [1.0, 0.0], [0.0, 5.0]), [1.0, 7.0])
    with pytest.raises(ValueError, match="one latent size"):
        latent.arithmetic(np.zeros(2), np.zeros(3), np.zeros(2))


# ----------------------------------------------------------------------------- images


def test_seed_points_are_the_samples_of_those_seeds(gans):
    gan = gans["dcgan"]
    images = latent.interpolation_images(gan, seeds=[1, 2, 3, 4], steps=5, method="slerp")
    assert images.shape == (10, 28, 28, 1)
    for row, (a, b) in enumerate([(1, 2), (3, 4)]):
        np.testing.assert_allclose(images[5 * row], gan.sample(1, seed=a)[0], atol=1e-6)
        np.testing.assert_allclose(images[5 * row + 4], gan.sample(1, seed=b)[0], atol=1e-6)
    with pytest.raises(ValueError, match="pairs of seeds"):
        latent.interpolation_images(gan, seeds=[1, 2, 3])


def test_arithmetic_images_are_the_operands_then_the_result(gans):
    gan = gans["dcgan"]
    images = latent.arithmetic_images(gan, [1, 2], 3, 4, variations=2)
    assert images.shape == (6, 28, 28, 1)
    z = latent.latent_points([1, 2, 3, 4], gan.latent_dim)
    expected = gan.generate(np.stack([z[:2].mean(0), z[2], z[3], z[:2].mean(0) - z[2] + z[3]])).numpy()
    np.testing.assert_allclose(images[:4], expected, atol=1e-6)


def test_saved_model_and_path_give_the_gan_images(gans):
    import tensorflow as tf

    gan, base = gans["cgan"], gans["root"] / "cgan"
    expected = latent.interpolation_images(gan, seeds=[5, 6], steps=4, labels=[2])
    for source in (tf.saved_model.load(str(base / "1")), base, base / "1"):
        images = latent.interpolation_images(source, seeds=[5, 6], steps=4, labels=[2])
        np.testing.assert_allclose(images, expected, atol=1e-5)
    # One class per row; rows differ from the same walk with another class.
    other = latent.interpolation_images(gan, seeds=[5, 6], steps=4, labels=[0])
    assert not np.allclose(other, expected)


# ----------------------------------------------------------------------------- command line


def _grid(path):
    return np.asarray(Image.open(path))


def test_sample_command_writes_interpolation_and_arithmetic_grids_locally(gans, tmp_path, capsys):
    base = gans["root"] / "dcgan"
    out = tmp_path / "walk.png"
    assert cli.main(["sample", "--model-path", str(base), "--interpolate", "slerp", "--steps", "4",
                            "--seeds", "1,2,3,4", "--out", str(out)]) == 0
    assert _grid(out).shape == (2 * TILE + 2, 4 * TILE + 2)
    assert "2 slerp interpolation(s) of 4 steps" in capsys.readouterr().out
    out = tmp_path / "sum.png"
    assert cli.main(["sample", "--model-path", str(base), "--arithmetic", "1+2,3,4", "--out", str(out)]) == 0
    expected = images_lib.grid(latent.arithmetic_images(gans["dcgan"], [1, 2], 3, 4), cols=4)
    np.testing.assert_array_equal(_grid(out), expected[..., 0])
    with pytest.raises(SystemExit, match="three operands"):
        cli.main(["sample", "--model-path", str(base), "--arithmetic", "1,2", "--out", str(out)])
    with pytest.raises(SystemExit):  # neither a server nor a local model
        cli.main(["sample", "--interpolate", "linear", "--out", str(out)])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sample_command_interpolates_through_a_server(gans, tmp_path):
    """An in-process gRPC server (the embedded server's core): the served walk is the local one."""
    import tensorflow as tf

    from keras_gans.serving.server import config as config_lib
    from keras_gans.serving.server.core import ServingCore
    from keras_gans.serving.server.grpc_api import create_grpc_server
    from keras_gans.serving.server.manager import ModelManager

    manager = ModelManager(tf.compat.v1.ConfigProto())
    manager.set_config(config_lib.single_model_config("cgan", str(gans["root"] / "cgan")))
    manager.poll()
    port = _free_port()
    server = create_grpc_server(ServingCore(manager), port, host="127.0.0.1")
    server.start()
    try:
        served, local = tmp_path / "served.png", tmp_path / "local.png"
        args = ["--interpolate", "linear", "--steps", "3", "--seeds", "7,8", "--labels", "1"]
        assert cli.main(["sample", "--server", f"grpc://127.0.0.1:{port}", "--model", "cgan", *args, "--out", str(served)]) == 0
        assert cli.main(["sample", "--model-path", str(gans["root"] / "cgan"), *args, "--out", str(local)]) == 0
        np.testing.assert_array_equal(_grid(served), _grid(local))
        assert _grid(served).shape == (TILE + 2, 3 * TILE + 2)
    finally:
        server.stop(grace=None)
        manager.stop()
