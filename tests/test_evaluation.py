"""Evaluation: tells good generators from bad, for in-memory GANs and exported SavedModels.

Fake "generators" made of real digits give known answers: one drawing held-out real
digits scores like the real data (FID at the floor, IS of real digits, balanced classes), a
collapsed one scores badly; one returning training images is flagged by the memorisation
check. Uses the 1,000 real test digits in tests/data/mnist and the shipped MNIST classifier.
"""

import json
import math

import numpy as np
import pytest
from PIL import Image

import keras_gans as kg
from keras_gans import cli, evaluation, generators
from tests.conftest import ROOT

SUBSET = ROOT / "tests" / "data" / "mnist"
CLASSIFIER = ROOT / "saved_models" / "mnist_classifier" / "classifier.keras"
FAST = dict(kid_subsets=5, kid_subset_size=200)  # KID on few subsets: these tests check plumbing and direction


@pytest.fixture(scope="module")
def digits():
    if not (SUBSET / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"no MNIST test subset at {SUBSET} (tests/data/make_mnist_subset.py)")
    images, labels = kg.data.load_arrays(str(SUBSET), split="test")
    return images, labels


@pytest.fixture(scope="module")
def classifier():
    if not CLASSIFIER.exists():
        pytest.skip(f"no shipped classifier at {CLASSIFIER} (benchmarks/train_classifier.py)")
    return evaluation.MNISTClassifier.load(str(CLASSIFIER))


class RealDigits:
    """A 'generator' whose samples are real digits from a pool (by class when asked)."""

    def __init__(self, images, labels=None, num_classes=None, wrong_labels=False):
        self.images, self.labels = images, labels
        self.num_classes = num_classes
        self.wrong_labels = wrong_labels

    def sample(self, n, seed=None, labels=None):
        rng = np.random.default_rng(seed)
        if labels is None:
            return self.images[rng.choice(len(self.images), n, replace=n > len(self.images))]
        wanted = (np.asarray(labels) + (1 if self.wrong_labels else 0)) % 10
        return np.stack([self.images[rng.choice(np.flatnonzero(self.labels == k))] for k in wanted])


class Collapsed:
    """A mode-collapsed 'generator': the same digit every time."""

    num_classes = None

    def __init__(self, image):
        self.image = image

    def sample(self, n, seed=None, labels=None):
        return np.repeat(self.image[None], n, axis=0)


def test_real_digits_score_like_the_real_data_and_collapse_does_not(digits, classifier):
    images, labels = digits
    pool, real, real_labels = images[:500], images[500:], labels[500:]
    floor = evaluation.evaluate_real(real, real_labels, train_images=pool, classifier=classifier, num_samples=500, **FAST)
    good = evaluation.evaluate_generator(RealDigits(pool), real, classifier=classifier, num_samples=500, batch_size=500, **FAST)
    # One chunk of 500 drawn without replacement from the 500-image pool: the same set as
    # the floor's training subset, so the same FID.
    assert good["fid"].value == pytest.approx(floor["fid"].value, rel=1e-6)
    assert (good["fid"].num_samples, good["fid"].num_reference) == (500, 500)
    assert abs(good["inception_score"].value - floor["inception_score"].value) < 0.5
    assert floor["inception_score"].value > 8.5
    assert good["class_balance"].value > 0.98 and good["min_class_fraction"].value > 0.05
    assert floor["label_accuracy"].value > 0.97  # the classifier on real labels
    assert "label_accuracy" not in good  # unconditional

    bad = evaluation.evaluate_generator(Collapsed(pool[0]), real, classifier=classifier, num_samples=200, **FAST)
    assert bad["fid"].value > 20 * max(floor["fid"].value, 1.0)
    assert bad["kid"].value > 10 * max(abs(floor["kid"].value), 0.01)
    assert bad["inception_score"].value == pytest.approx(1.0, abs=1e-3)
    assert bad["max_class_fraction"].value == 1.0 and bad["min_class_fraction"].value == 0.0
    assert bad["class_balance"].value == 0.0
    assert bad["class_balance"].details["missing_classes"] == [k for k in range(10) if k != labels[0]]

    table = evaluation.format_table(good, floor)
    assert table.splitlines()[0] == "| metric | value | ± std | samples | real data |"
    assert "| MNIST FID |" in table and "| MNIST IS |" in table and "500 vs 500" in table


def test_conditional_generators_get_label_accuracy_on_cycling_labels(digits, classifier):
    images, labels = digits
    right = RealDigits(images[:500], labels[:500], num_classes=10)
    wrong = RealDigits(images[:500], labels[:500], num_classes=10, wrong_labels=True)
    scores = evaluation.evaluate_generator(right, images[500:], classifier=classifier, num_samples=200, batch_size=64, **FAST)
    accuracy = scores["label_accuracy"]
    assert accuracy.value > 0.95 and accuracy.num_samples == 200
    assert sorted(accuracy.details["per_class"]) == list(range(10))  # labels cycled over all classes
    assert "class_balance" not in scores
    assert evaluation.evaluate_generator(wrong, images[500:], classifier=classifier, num_samples=100, **FAST)[
        "label_accuracy"
    ].value < 0.1


def test_chunks_are_seeded_and_counted(digits):
    images, _ = digits
    samples, asked = evaluation.generate_samples(RealDigits(images), 130, seed=3, batch_size=50)
    again, _ = evaluation.generate_samples(RealDigits(images), 130, seed=3, batch_size=50)
    other, _ = evaluation.generate_samples(RealDigits(images), 130, seed=4, batch_size=50)
    assert samples.shape == (130, 28, 28, 1) and asked is None
    np.testing.assert_array_equal(samples, again)
    assert not np.array_equal(samples, other)
    _, asked = evaluation.generate_samples(RealDigits(images, np.arange(1000) % 10, 10), 13, batch_size=5)
    assert asked.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny DCGAN and cGAN exported into a saved_models folder."""
    root = tmp_path_factory.mktemp("eval_saved_models")
    dcgan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=8, g_width=4, d_width=4, seed=5)
    cgan = kg.models.ConditionalGAN(image_shape=(28, 28, 1), num_classes=10, latent_dim=8, g_width=4, d_width=4, seed=6)
    kg.export.export_generator(dcgan, root / "tiny_dcgan", max_num_samples=64)
    kg.export.export_generator(cgan, root / "tiny_cgan")
    return {"root": root, "dcgan": dcgan, "cgan": cgan}


def test_saved_model_is_evaluated_through_its_sample_signature(exported, digits, classifier):
    import tensorflow as tf

    images, _ = digits
    base = exported["root"] / "tiny_dcgan"
    kwargs = dict(classifier=classifier, num_samples=150, batch_size=50, **FAST)
    in_memory = evaluation.evaluate_generator(exported["dcgan"], images, **kwargs)
    loaded = evaluation.evaluate_generator(tf.saved_model.load(str(base / "1")), images, **kwargs)
    by_path = evaluation.evaluate_generator(str(base), images, **kwargs)
    # The images are the GAN's, quantized to uint8 by the `sample` signature, so the numbers
    # differ only by that rounding. Chunks are capped at the export's max_num_samples (64,
    # read from the card beside a path; a loaded SavedModel has no card: a clear error).
    with pytest.raises(ValueError, match="exceed the export's max_num_samples"):
        evaluation.evaluate_generator(tf.saved_model.load(str(base / "1")), images, **dict(kwargs, batch_size=100))
    sampler = generators.as_generator(base)
    assert sampler.max_num_samples == 64 and sampler.version == 1 and sampler.kind == "saved_model"
    samples, _ = evaluation.generate_samples(sampler, 150, batch_size=100)
    assert samples.dtype == np.uint8
    reference, _ = evaluation.generate_samples(exported["dcgan"], 150, batch_size=64)
    np.testing.assert_array_equal(samples, kg.models.to_uint8(reference).numpy())
    for other in (loaded, by_path):
        assert other["fid"].value == pytest.approx(in_memory["fid"].value, rel=0.02)
        assert other["inception_score"].value == pytest.approx(in_memory["inception_score"].value, rel=0.02)
    cgan_scores = evaluation.evaluate_generator(exported["root"] / "tiny_cgan", images, **kwargs)
    assert cgan_scores["label_accuracy"].num_samples == 150


def test_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(0)
    refs, queries = rng.normal(size=(300, 20)).astype(np.float32), rng.normal(size=(37, 20)).astype(np.float32)
    queries[5] = refs[123]
    distances, indices = evaluation.nearest_neighbours(queries, refs, k=3, batch_size=64)
    brute = np.linalg.norm(queries[:, None, :].astype(np.float64) - refs[None], axis=-1)
    np.testing.assert_array_equal(indices, np.argsort(brute, axis=1)[:, :3])
    np.testing.assert_allclose(distances, np.sort(brute, axis=1)[:, :3], rtol=1e-6)
    assert distances[5, 0] == 0.0 and indices[5, 0] == 123


def test_memorisation_flags_a_generator_that_returns_training_images(digits, classifier, tmp_path):
    images, labels = digits
    train, test = images[:600], images[600:]
    png = tmp_path / "nn.png"
    copier = evaluation.memorisation_check(
        RealDigits(train[:300]), train, test, classifier=classifier, num_samples=200, grid_samples=4, k=2, png_path=png
    )
    honest = evaluation.memorisation_check(
        RealDigits(test[:200]), train, test[200:], classifier=classifier, num_samples=200, grid_samples=0
    )
    # Pixels are copied exactly; features of one image differ by rounding with the batch it
    # is computed in (oneDNN picks kernels by batch size on some CPUs: 1e-9 seen on AMD EPYC).
    for space, tolerance in (("pixel", 0.0), ("feature", 1e-6)):
        assert copier.spaces[space]["samples_to_train"] <= tolerance
        assert copier.spaces[space]["ratio"] <= tolerance and copier.spaces[space]["near_copy_fraction"] == 1.0
    for space in ("pixel", "feature"):
        assert 0.7 < honest.spaces[space]["ratio"] < 1.4
        assert honest.spaces[space]["near_copy_fraction"] < 0.1
    # The PNG: 4 rows of sample, 2 pixel neighbours, a grey tile, 2 feature neighbours.
    grid = np.asarray(Image.open(png))
    assert grid.shape == (4 * 30 + 2, 6 * 30 + 2)
    first_neighbour = grid[2:30, 32:60]
    np.testing.assert_array_equal(first_neighbour, grid[2:30, 2:30])  # a copy's nearest is itself
    assert (grid[2:30, 92:120] == 128).all()
    assert "| pixel | 0 (200 samples) |" in copier.format_table()
    assert honest.grid is None and json.dumps(honest.to_dict())


def test_fid_monitor_logs_fid_into_history_and_csv(digits, classifier, tmp_path):
    images, _ = digits
    gan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=4, g_width=4, d_width=4, seed=3)
    gan.compile()
    data = kg.data.load(str(SUBSET), split="test", batch_size=8, seed=0).take(1)
    monitor = kg.callbacks.FIDMonitor(images[:200], classifier, every=2, num_samples=50, batch_size=50)
    csv_path = tmp_path / "history.csv"
    history = gan.fit(
        data, epochs=2, verbose=0, callbacks=[monitor, kg.callbacks.HistoryCSV(csv_path)]
    )
    fids = history.history["fid"]
    assert math.isnan(fids[0]) and fids[1] > 0
    assert [epoch for epoch, _ in monitor.scores] == [2] and monitor.scores[0][1].num_samples == 50
    rows = kg.callbacks.HistoryCSV(csv_path).read()
    assert float(rows[1]["fid"]) == pytest.approx(fids[1])
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        kg.callbacks.FIDMonitor(images, classifier, every=0)


def _write_npz(path, images, labels):
    """An .npz with a train and a test split (disjoint halves of the subset)."""
    np.savez(path, x_train=images[:600], y_train=labels[:600], x_test=images[600:], y_test=labels[600:])
    return path


def test_evaluate_command_prints_the_table_and_updates_the_card(exported, digits, tmp_path, capsys, monkeypatch):
    if not CLASSIFIER.exists():
        pytest.skip(f"no shipped classifier at {CLASSIFIER}")
    images, labels = digits
    dataset = _write_npz(tmp_path / "mnist_subset.npz", images, labels)
    monkeypatch.setenv("KERAS_GANS_SAVED_MODELS", str(exported["root"]))
    png = tmp_path / "memorisation.png"
    argv = ["evaluate", "tiny_dcgan", "--dataset", str(dataset), "-n", "120", "--batch-size", "60",
            "--kid-subsets", "3", "--kid-subset-size", "50", "--classifier", str(CLASSIFIER),
            "--update-card", "--memorisation", str(png), "--memorisation-samples", "60", "--grid-samples", "3"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "| metric | value | ± std | samples | real data |" in out
    assert "| MNIST FID |" in out and "120 vs 400" in out and "smallest class" in out
    assert "| pixel |" in out and png.exists()
    card = json.loads((exported["root"] / "tiny_dcgan" / "card.json").read_text())
    metrics = card["metrics"]
    assert metrics["num_samples"] == 120 and metrics["command"].startswith("keras-gans evaluate tiny_dcgan --dataset ")
    assert metrics["scores"]["fid"]["num_samples"] == 120 and metrics["scores"]["fid"]["num_reference"] == 400
    assert metrics["real"]["fid"]["num_samples"] == 120  # 120 training images vs the test split
    # Paths in a card are relative to its folder (keras_gans.record_paths).
    assert metrics["source"] == {"kind": "saved_model", "path": "1", "version": 1}
    assert card["versions"]["1"]["metrics"] == metrics
    assert card["family"] == "dcgan"  # the rest of the card is kept
    # The card's numbers are what the command measures again.
    again = evaluation.evaluate_generator(
        exported["root"] / "tiny_dcgan", images[600:], num_samples=120, batch_size=60,
        classifier=str(CLASSIFIER), kid_subsets=3, kid_subset_size=50,
    )
    assert again["fid"].value == pytest.approx(metrics["scores"]["fid"]["value"], rel=1e-9)


def test_evaluate_command_errors(exported, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_GANS_SAVED_MODELS", str(exported["root"]))
    with pytest.raises(SystemExit, match="Unknown pretrained generator 'nope'.*tiny_cgan, tiny_dcgan"):
        cli.main(["evaluate", "nope", "--dataset", str(SUBSET)])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit, match="is not a generator"):
        cli.main(["evaluate", str(empty), "--dataset", str(SUBSET)])
    run = tmp_path / "run"
    run.mkdir()
    exported["dcgan"].save(run / "model.keras")
    with pytest.raises(SystemExit, match="has no card.json"):
        cli.main(["evaluate", str(run), "--dataset", str(SUBSET), "--update-card"])
