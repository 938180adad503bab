"""The translators shipped in saved_models/ (pix2pix_mnist_edges, cyclegan_mnist_invert):
listed and loaded by name, learned their tasks on committed test digits, measured by
`keras-gans evaluate` into their cards, and served by the embedded server.

Only the 1,000 committed test digits (tests/data/mnist) are read; the shipped models never
trained on them (they trained on the 60,000 training digits).
"""

import json
import shutil

import numpy as np
import pytest

import keras_gans as kg
from keras_gans import generators, pretrained
from keras_gans.evaluation import translation
from keras_gans.serving import Client
from keras_gans.serving.server import config as config_lib
from tests.conftest import ROOT
from tests.test_serving import Served, _free_port, _running, _start_server

ZOO = ROOT / "saved_models"
DIGITS = ROOT / "tests" / "data" / "mnist"
TRANSLATORS = pretrained.list(ZOO, kind="translator")
N = 200  # committed test digits per check
pytestmark = pytest.mark.skipif(not TRANSLATORS, reason="no translators shipped yet")


@pytest.fixture(scope="module")
def classifier():
    return kg.evaluation.load_classifier()


@pytest.fixture(scope="module")
def loaded():
    return {name: pretrained.load(name, ZOO) for name in TRANSLATORS}


def test_the_listing_keeps_generators_and_translators_apart():
    generators_listed = pretrained.list(ZOO)
    assert {"pix2pix_mnist_edges", "cyclegan_mnist_invert"} <= set(TRANSLATORS)
    assert not set(TRANSLATORS) & set(generators_listed) and "dcgan_mnist" in generators_listed
    assert pretrained.list(ZOO, kind="all") == sorted(generators_listed + TRANSLATORS)
    assert [pretrained.kind(name, ZOO) for name in ("dcgan_mnist", "pix2pix_mnist_edges")] == ["generator", "translator"]
    with pytest.raises(ValueError, match="kind must be one of"):
        pretrained.list(ZOO, kind="translators")


def test_pix2pix_draws_digits_the_classifier_recognises(loaded, classifier):
    model = loaded["pix2pix_mnist_edges"]
    assert isinstance(model, kg.models.Pix2Pix)
    pairs = translation.task_pairs("mnist_edges", DIGITS, num_pairs=N)
    out = model.translate(pairs.a)
    l1, identity = np.abs(out - pairs.b).mean(), np.abs(pairs.a - pairs.b).mean()
    accuracy = classifier.accuracy(out, pairs.labels).value
    # Measured: L1 0.022 against 0.40 for the edge maps themselves; 99 % recognised.
    assert l1 < 0.15 * identity, (l1, identity)
    assert accuracy >= 0.95, accuracy
    assert classifier.accuracy(pairs.a, pairs.labels).value < 0.5  # the edge maps alone are not digits to it


def test_cyclegan_inverts_digits_both_ways_and_keeps_the_class(loaded, classifier):
    model = loaded["cyclegan_mnist_invert"]
    assert isinstance(model, kg.models.CycleGAN)
    pairs = translation.task_pairs("mnist_invert", DIGITS, num_pairs=N)
    forward = model.translate(pairs.a)
    backward = model.translate(pairs.b, "b_to_a")
    round_trip = model.translate(forward, "b_to_a")
    # The forward images are inversions: close to the true ones, and digits once inverted back.
    assert np.abs(forward - pairs.b).mean() < 0.2 * np.abs(pairs.a - pairs.b).mean()
    assert classifier.accuracy(-forward, pairs.labels).value >= 0.95
    assert classifier.accuracy(backward, pairs.labels).value >= 0.95
    assert classifier.accuracy(round_trip, pairs.labels).value >= 0.95


@pytest.mark.parametrize("name", TRANSLATORS)
def test_the_savedmodel_translates_as_the_keras_file(loaded, name):
    served = pretrained.load(name, ZOO, format="saved_model")
    assert isinstance(served, pretrained.SavedModelTranslator) and served.version == 1
    assert served.directions == tuple(loaded[name].translators)
    a, b, _ = kg.data.mnist_task(pretrained.card(name, ZOO)["task"], DIGITS, split="test")
    for direction, images in (("a_to_b", a[:8]), ("b_to_a", b[:8]))[: len(served.directions)]:
        np.testing.assert_allclose(served.translate(images, direction), loaded[name].translate(images, direction),
                                   atol=1e-5)
    with pytest.raises(ValueError, match="not a generator"):
        generators.as_generator(name, saved_models_dir=ZOO)


def test_evaluate_writes_a_translators_metrics_into_its_card(tmp_path):
    folder = tmp_path / "cyclegan_mnist_invert"
    shutil.copytree(ZOO / "cyclegan_mnist_invert", folder, ignore=shutil.ignore_patterns("*.keras"))
    record = kg.evaluation.report(folder, DIGITS, num_samples=100, write_card=True,
                                  command="keras-gans evaluate ... -n 100 --update-card")
    card = json.loads((folder / "card.json").read_text())
    assert card["metrics"]["command"] == record["command"] and card["metrics"]["task"] == "mnist_invert"
    assert card["versions"]["1"]["metrics"] == card["metrics"]
    assert card["metrics"]["source"] == {"kind": "saved_model", "path": "1", "version": 1}  # relative to the card
    scores = card["metrics"]["scores"]
    assert set(scores) == {
        f"{d}_{m}" for d in ("a_to_b", "b_to_a") for m in ("l1", "identity_l1", "accuracy", "target_accuracy")
    } | {f"{c}_{m}" for c in ("a_to_b_to_a", "b_to_a_to_b") for m in ("l1", "accuracy")}
    assert all(s["num_samples"] == 100 for s in scores.values())
    assert scores["a_to_b_l1"]["value"] < scores["a_to_b_identity_l1"]["value"]
    assert scores["a_to_b_accuracy"]["value"] > 0.9 and scores["a_to_b_target_accuracy"]["value"] > 0.95


def test_evaluate_needs_a_task_for_a_translator_without_one(tmp_path, capsys):
    folder = tmp_path / "edges"
    shutil.copytree(ZOO / "pix2pix_mnist_edges" / "1", folder / "1")  # no card: no task
    with pytest.raises(ValueError, match="pass --task"):
        kg.evaluation.report(folder, DIGITS, num_samples=20)
    record = kg.evaluation.report(folder, DIGITS, num_samples=20, task="mnist_edges")
    assert record["task"] == "mnist_edges" and record["scores"]["a_to_b_accuracy"]["value"] >= 0.9
    assert "a to b identity l1" in capsys.readouterr().out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The embedded server on the shipped translators, from a models.config as users write it."""
    root = tmp_path_factory.mktemp("translator_zoo")
    srv = Served(root, _free_port(), _free_port())
    srv.models.mkdir()
    for name in TRANSLATORS:
        shutil.copytree(ZOO / name, srv.models / name, ignore=shutil.ignore_patterns("*.keras"))
    config_path = root / "models.config"
    config_lib.write_models_config(srv.models, config_path, base_path_prefix=None)
    process, log = _start_server(srv, config_path, root / "server.log")
    with _running(srv, process, log, TRANSLATORS):
        yield Client(srv.rest), Client(f"grpc://{srv.grpc_target}")


@pytest.mark.parametrize("name", TRANSLATORS)
def test_the_server_translates_as_the_shipped_model(server, name):
    local = pretrained.load(name, ZOO, format="saved_model")
    a, b, _ = kg.data.mnist_task(pretrained.card(name, ZOO)["task"], DIGITS, split="test")
    for direction, images in (("a_to_b", a[:4]), ("b_to_a", b[:4]))[: len(local.directions)]:
        expected = local.translate(images, direction)
        for client in server:
            got = client.translate(name, images.astype(np.float32) / 127.5 - 1, direction=direction)
            np.testing.assert_allclose(got, expected, atol=1e-5)
        png = server[0].translate(name, images[:1], direction=direction, png=True)
        assert png[0][:4] == b"\x89PNG"
