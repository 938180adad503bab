"""The models shipped in saved_models/ (generators and translators): served as they are,
and measured as their cards say."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import keras_gans as kg
from keras_gans import images as images_lib
from keras_gans.serving import Client
from keras_gans.serving.server import config as serving_config
from tests.conftest import ROOT, shared_mnist_dir

SAVED_MODELS = ROOT / "saved_models"
SHIPPED = kg.pretrained.list(SAVED_MODELS) if SAVED_MODELS.exists() else []  # the generators
TRANSLATORS = kg.pretrained.list(SAVED_MODELS, kind="translator") if SAVED_MODELS.exists() else []
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not SHIPPED, reason="no generators shipped yet")]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The embedded server on every shipped model, from a models.config as users write it."""
    config = tmp_path_factory.mktemp("serving") / "models.config"
    serving_config.write_models_config(SAVED_MODELS, config, base_path_prefix="")
    rest, grpc_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_gans.cli", "serve", "--embedded", "--host=127.0.0.1",
         f"--port={grpc_port}", f"--rest_api_port={rest}", f"--model_config_file={config}"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    try:
        clients = Client(f"http://127.0.0.1:{rest}"), Client(f"grpc://127.0.0.1:{grpc_port}")
        deadline = time.monotonic() + 180
        for name in SHIPPED + TRANSLATORS:
            while True:
                assert process.poll() is None, "the server exited"
                try:
                    clients[0].wait_until_available(name, timeout=1)
                    break
                except TimeoutError:
                    assert time.monotonic() < deadline, f"{name} never became available"
        yield clients
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_generator_serves_what_it_samples_in_process(server, name):
    rest, grpc = server
    card = kg.pretrained.card(name, SAVED_MODELS)
    labels = list(range(card["num_classes"])) * 2 if card.get("num_classes") else None
    n = len(labels) if labels else 16
    over_rest = rest.sample(name, n, seed=11, labels=labels)
    over_grpc = grpc.sample(name, n, seed=11, labels=labels)
    np.testing.assert_array_equal(over_rest, over_grpc)
    assert over_rest.shape == (n, *card["image_shape"]) and over_rest.dtype == np.uint8
    # The one-call load gives the same images in process (rounding to uint8 may differ
    # by one level where a float lands on .5 differently in the two graphs).
    local = images_lib.to_uint8(kg.pretrained.load(name, SAVED_MODELS).sample(n, seed=11, labels=labels))
    diff = np.abs(local.astype(int) - over_rest.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999


@pytest.mark.parametrize("name", TRANSLATORS)
def test_shipped_translator_serves_what_it_translates_in_process(server, name):
    rest, grpc = server
    card = kg.pretrained.card(name, SAVED_MODELS)
    local = kg.pretrained.load(name, SAVED_MODELS)
    a, b, _ = kg.data.mnist_task(card["task"], ROOT / "tests" / "data" / "mnist", split="test")
    for direction, images in zip(card["directions"], (a[:16], b[:16])):
        over_rest = rest.translate(name, images, direction=direction)
        np.testing.assert_array_equal(over_rest, grpc.translate(name, images, direction=direction))
        assert over_rest.shape == (16, *card["target_shape" if direction == "a_to_b" else "image_shape"])
        diff = np.abs(images_lib.to_uint8(local.translate(images, direction)).astype(int) - over_rest.astype(int))
        assert diff.max() <= 1 and (diff == 0).mean() > 0.999


@pytest.mark.cards
@pytest.mark.skipif(shared_mnist_dir() is None, reason="needs the full MNIST test split (../shared/data/mnist)")
@pytest.mark.parametrize("name", SHIPPED + TRANSLATORS)
def test_card_metrics_are_reproduced_by_keras_gans_evaluate(name, tmp_path):
    measured = kg.pretrained.card(name, SAVED_MODELS).get("metrics")
    assert measured, f"{name}'s card has no measured metrics"
    out = tmp_path / "metrics.json"
    done = subprocess.run(
        [sys.executable, "-m", "keras_gans.cli", "evaluate", name, "--dataset", str(shared_mnist_dir()),
         "-n", str(measured["num_samples"]), "--seed", str(measured["seed"]),
         "--batch-size", str(measured["batch_size"]), "--no-floor", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads(out.read_text())["scores"]
    for key, score in measured["scores"].items():
        if isinstance(score, dict) and "value" in score and score["value"] is not None:
            assert again[key]["value"] == pytest.approx(score["value"], rel=1e-3, abs=1e-4), key
