"""Tests of keras_gans.evaluation's scores, extractors and mode coverage against independent NumPy/SciPy computations and known values."""

import glob
import math
import os

import numpy as np
import pytest
import scipy.linalg

from keras_gans import data, evaluation

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSIFIER = os.path.join(ROOT, "saved_models", "mnist_classifier", "classifier.keras")
MNIST_SUBSET = os.path.join(ROOT, "tests", "data", "mnist")


# --------------------------------------------------------------------------- references


def reference_fid(real, fake):
    """FID the textbook way: np.cov and scipy.linalg.sqrtm of S1 S2."""
    mu1, mu2 = real.mean(axis=0), fake.mean(axis=0)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def reference_is(probs, splits):
    """IS as in Salimans et al.'s code: exp(mean KL(p(y|x) || p(y))) per contiguous split."""
    n, scores = len(probs), []
    for i in range(splits):
        part = probs[i * n // splits : (i + 1) * n // splits]
        kl = part * (np.log(part) - np.log(part.mean(axis=0, keepdims=True)))
        scores.append(np.exp(np.mean(np.sum(kl, axis=1))))
    return float(np.mean(scores)), float(np.std(scores))


def reference_mmd2_unbiased(x, y):
    d = x.shape[1]
    kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    n, m = len(x), len(y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * kxy.mean()
    )


def correlated_activations(rng, n, d, shift=0.0, scale=1.0):
    mixing = rng.normal(size=(d, d)) / math.sqrt(d)
    return (rng.normal(size=(n, d)) @ mixing) * scale + shift


def _modes(name):
    """Centres and sigma of a PacGAN mixture, from data (their one home)."""
    mix = data.mixture(name)
    return mix.centers, mix.sigma


def sample_mixture(rng, centres, sigma, n):
    components = rng.integers(len(centres), size=n)
    return centres[components] + sigma * rng.normal(size=(n, centres.shape[1]))


# --------------------------------------------------------------------------- FID


def test_fid_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    real = correlated_activations(rng, 600, 24)
    fake = correlated_activations(rng, 500, 24, shift=0.3, scale=1.4)
    score = evaluation.fid(real, fake, batch_size=128)  # several batches
    assert score.value == pytest.approx(reference_fid(real, fake), rel=1e-3)
    assert (score.num_samples, score.num_reference) == (500, 600)
    assert score.details["feature_dim"] == 24


def test_frechet_distance_closed_form_and_moments():
    rng = np.random.default_rng(1)
    x = correlated_activations(rng, 300, 5, shift=2.0)
    mu, sigma = evaluation.feature_moments(x.astype(np.float32), batch_size=64)
    np.testing.assert_allclose(mu, x.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-4, atol=1e-5)
    # Two isotropic Gaussians: d^2 = |mu1 - mu2|^2 + d (s1 + s2 - 2 sqrt(s1 s2)).
    value = evaluation.frechet_distance(np.zeros(3), 4 * np.eye(3), np.ones(3), np.eye(3))
    assert value == pytest.approx(3 + 3 * (4 + 1 - 2 * 2))


def test_fid_of_a_set_against_itself_is_zero():
    x = correlated_activations(np.random.default_rng(2), 400, 32)
    assert abs(evaluation.fid(x, x).value) < 1e-8
    # Fewer samples than dimensions: singular covariances, still real and ~0 (the square
    # root of eigenvalues at rounding level, ~1e-16, leaves ~1e-8 each; Tr S is ~30 here).
    small = x[:20]
    assert abs(evaluation.fid(small, small).value) < 1e-5


def test_fid_rejects_mismatched_feature_dims():
    with pytest.raises(ValueError, match="same extractor"):
        evaluation.fid(np.zeros((10, 4)), np.zeros((10, 5)))


# --------------------------------------------------------------------------- IS


def test_inception_score_matches_numpy():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.full(10, 0.3), size=1000)
    score = evaluation.inception_score(probs, splits=10, batch_size=37)
    value, std = reference_is(probs, 10)
    assert score.value == pytest.approx(value, rel=1e-3)
    assert score.std == pytest.approx(std, rel=1e-3)
    assert score.num_samples == 1000 and score.details["splits"] == 10


def test_inception_score_known_values():
    uniform = np.full((200, 10), 0.1)
    assert evaluation.inception_score(uniform).value == pytest.approx(1.0)
    for n in (2, 7, 10):
        one_hot = np.eye(n)[np.arange(70 * n) % n]  # every split holds each class equally
        score = evaluation.inception_score(one_hot, splits=10)
        assert score.value == pytest.approx(n) and score.std == pytest.approx(0, abs=1e-9)


def test_inception_score_rejects_logits():
    with pytest.raises(ValueError, match="softmax"):
        evaluation.inception_score(np.random.default_rng(0).normal(size=(20, 10)), splits=2)


# --------------------------------------------------------------------------- KID


def test_kid_matches_numpy_on_full_sets():
    rng = np.random.default_rng(4)
    real = correlated_activations(rng, 300, 16)
    fake = correlated_activations(rng, 300, 16, shift=0.2)
    # One subset of all samples: a permutation of each set, so MMD^2_u is that of the sets.
    score = evaluation.kid(real, fake, subsets=1, subset_size=300, batch_size=64)
    assert score.value == pytest.approx(reference_mmd2_unbiased(real, fake), rel=1e-3)
    assert score.details["subset_size"] == 300 and score.num_samples == 300


def test_kid_is_unbiased_for_one_distribution_and_positive_for_shifted():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(4000, 16)), rng.normal(size=(4000, 16))
    same = evaluation.kid(real, fake, subsets=200, subset_size=20, seed=1)
    standard_error = same.std / math.sqrt(200)
    assert abs(same.value) < 4 * standard_error
    shifted = evaluation.kid(real, fake + 0.5, subsets=20, subset_size=200, seed=1)
    assert shifted.value > 20 * shifted.std / math.sqrt(20) > 0
    # The biased (V-statistic) estimate at m = 20 sits far above 0: the test has the power
    # to see a bias.
    d = 16
    x, y = real[:20], fake[:20]
    biased = ((x @ x.T / d + 1) ** 3).mean() + ((y @ y.T / d + 1) ** 3).mean() - 2 * (
        (x @ y.T / d + 1) ** 3
    ).mean()
    assert biased > 10 * standard_error


# --------------------------------------------------------------------------- mode coverage


def test_mixture_modes_follow_pacgan():
    centres, sigma = _modes("ring8")
    assert sigma == 0.01 and len(np.unique(np.round(centres, 6), axis=0)) == 8
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 1.0)
    centres, sigma = _modes("grid25")
    assert sigma == 0.05 and centres.shape == (25, 2) and set(centres.ravel()) == {-4, -2, 0, 2, 4}


def test_mode_coverage_of_true_ring8():
    rng = np.random.default_rng(6)
    angles = 2 * np.pi * np.arange(8) / 8
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    samples = sample_mixture(rng, centres, 0.01, 2500)
    result = evaluation.mode_coverage(samples, centres, 0.01)
    assert result.modes_captured == 8 and result.num_modes == 8 and result.num_samples == 2500
    assert result.high_quality_percent == pytest.approx(100 * (1 - math.exp(-4.5)), abs=0.5)
    assert 0 <= result.reverse_kl < 0.01


def test_mode_coverage_of_true_grid25():
    rng = np.random.default_rng(7)
    ticks = np.array([-4, -2, 0, 2, 4], float)
    centres = np.array([(i, j) for i in ticks for j in ticks])
    result = evaluation.mode_coverage(sample_mixture(rng, centres, 0.05, 2500), centres, 0.05)
    assert result.modes_captured == 25
    assert result.high_quality_percent == pytest.approx(98.89, abs=0.5)
    assert result.reverse_kl < 0.02


def test_mode_coverage_of_collapsed_samples():
    rng = np.random.default_rng(8)
    centres, sigma = _modes("ring8")
    samples = centres[3] + sigma * rng.normal(size=(2500, 2))
    result = evaluation.mode_coverage(samples, centres, sigma)
    assert result.modes_captured == 1 and result.mode_counts[3] == sum(result.mode_counts)
    assert result.reverse_kl == pytest.approx(math.log(8))


def test_mode_coverage_hand_made():
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # Two good samples at modes 0 and 1 each, one far sample nearest to mode 2 (not good).
    samples = np.array([[0, 0], [0.01, 0], [1, 0], [1, 0.01], [0.3, 0.8]])
    result = evaluation.mode_coverage(samples, centres, sigma=0.01)
    assert result.mode_counts == (2, 2, 0, 0) and result.modes_captured == 2
    assert result.high_quality_fraction == pytest.approx(0.8)
    assert result.reverse_kl == pytest.approx(math.log(2))  # p = (1/2, 1/2) vs 1/4 each
    empty = evaluation.mode_coverage(np.full((3, 2), 0.5), centres, sigma=0.01)
    assert empty.modes_captured == 0 and math.isnan(empty.reverse_kl)
    with pytest.raises(ValueError, match="2-D"):
        evaluation.mode_coverage(np.zeros((3, 3)), centres, 0.01)


def test_mode_coverage_takes_a_mixture_for_its_centres_and_sigma():
    ring = data.mixture("ring8")
    samples = ring.sample(2500, seed=0)
    assert evaluation.mode_coverage(samples, ring) == evaluation.mode_coverage(samples, ring.centers, ring.sigma)
    # A sigma given beside a mixture wins: 100x tighter makes most samples low quality.
    assert evaluation.mode_coverage(samples, ring, sigma=ring.sigma / 100).high_quality_fraction < 0.1
    with pytest.raises(ValueError, match="sigma is required"):
        evaluation.mode_coverage(samples, ring.centers)


def test_aggregate_mode_coverage_over_seeds():
    centres, sigma = _modes("ring8")
    runs = [
        evaluation.mode_coverage(np.repeat(centres[:k], 10, axis=0), centres, sigma) for k in (6, 7, 8)
    ]
    summary = evaluation.aggregate_mode_coverage(runs)
    assert summary["modes_captured"].mean == pytest.approx(7.0)
    assert summary["modes_captured"].stderr == pytest.approx(1 / math.sqrt(3))
    assert summary["high_quality_percent"].mean == pytest.approx(100.0)
    assert summary["reverse_kl"].n == 3
    assert math.isnan(evaluation.mean_and_stderr([1.0]).stderr)


# --------------------------------------------------------------------------- labelled data


def test_class_distribution():
    probs = np.array([[0.9, 0.1, 0.0], [0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    dist = evaluation.class_distribution(probs)
    assert dist.counts == (3, 1, 0) and dist.fractions == (0.75, 0.25, 0.0)
    assert dist.missing_classes == (2,) and dist.num_samples == 4
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert dist.normalized_entropy == pytest.approx(entropy / math.log(3))
    assert dist.tv_from_uniform == pytest.approx(0.5 * (0.75 - 1 / 3 + 1 / 3 - 0.25 + 1 / 3))
    balanced = evaluation.class_distribution(np.arange(30) % 10, num_classes=10)
    assert balanced.normalized_entropy == pytest.approx(1.0) and balanced.tv_from_uniform == 0


def test_label_accuracy():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
    score = evaluation.label_accuracy(probs, np.array([0, 0, 1, 1]))
    assert score.value == pytest.approx(0.75) and score.num_samples == 4
    assert score.details["per_class"] == {0: 0.5, 1: 1.0}
    with pytest.raises(ValueError, match=r"\[N\] = \[4\]"):
        evaluation.label_accuracy(probs, np.array([0, 1]))


# --------------------------------------------------------------------------- extractors


def test_to_float_images_accepts_both_conventions():
    as_uint8 = np.array([[[0, 255]]], np.uint8)
    np.testing.assert_allclose(evaluation.to_float_images(as_uint8).numpy().ravel(), [-1, 1])
    as_float = np.array([[[-1.0, 1.0]]], np.float32)
    assert evaluation.to_float_images(as_float).shape == (1, 1, 2, 1)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        evaluation.to_float_images(np.full((1, 2, 2), 200.0, np.float32))


def test_mnist_classifier_interface_and_saving(tmp_path):
    import tensorflow as tf

    clf = evaluation.MNISTClassifier(evaluation.build_mnist_classifier(seed=3), batch_size=4)
    images = np.random.default_rng(9).integers(0, 256, size=(10, 28, 28), dtype=np.uint8)
    features, probs = clf.features_and_probabilities(images)
    assert features.shape == (10, clf.feature_dim) == (10, 128)
    assert probs.shape == (10, clf.num_classes) == (10, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(clf.features(images / 127.5 - 1.0), features, rtol=1e-4, atol=1e-5)
    # The helpers take iterables of batches, including (images, labels) datasets.
    dataset = tf.data.Dataset.from_tensor_slices((images, np.zeros(10, np.int32))).batch(3)
    f2, p2 = evaluation.compute_activations(clf, dataset)
    np.testing.assert_allclose(f2, features, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(evaluation.compute_probabilities(clf, images, 6), probs, rtol=1e-5)
    path = str(tmp_path / "clf.keras")
    clf.save(path)
    np.testing.assert_allclose(evaluation.MNISTClassifier.load(path).probabilities(images), probs, rtol=1e-5)
    with pytest.raises(ValueError, match="28x28"):
        clf.features(np.zeros((2, 32, 32, 1), np.uint8))
    scores = evaluation.evaluate_images(clf, images, images, splits=2, kid_subsets=2, kid_subset_size=5)
    assert set(scores) == {"inception_score", "fid", "kid"}
    assert abs(scores["fid"].value) < 1e-6 and scores["fid"].details["extractor"] == "mnist_classifier"


def test_inception_offline_error_points_to_mnist_classifier(monkeypatch):
    import keras

    def offline(**kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- "
                        "[Errno -2] Name or service not known")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    with pytest.raises(RuntimeError, match="without internet") as error:
        evaluation.InceptionV3Extractor()
    assert "MNISTClassifier.load" in str(error.value) and "Name or service" in str(error.value)


@pytest.mark.slow
def test_inception_extractor_shapes_on_grey_28x28():
    # Random weights (no download): checks the layer wiring, resizing and channel repeat.
    extractor = evaluation.InceptionV3Extractor(weights=None, batch_size=2)
    features, probs = extractor.features_and_probabilities(np.zeros((3, 28, 28), np.uint8))
    assert features.shape == (3, 2048) and probs.shape == (3, 1000)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def _subset_file(pattern):
    found = sorted(glob.glob(os.path.join(MNIST_SUBSET, pattern)))
    return found[0] if found else None


def test_shipped_classifier_accuracy_on_real_test_subset():
    if not os.path.exists(CLASSIFIER):
        pytest.skip(f"no shipped classifier at {CLASSIFIER} (benchmarks/train_classifier.py)")
    images_path = _subset_file("*images*idx3*.gz")
    labels_path = _subset_file("*labels*idx1*.gz")
    if images_path is None or labels_path is None:
        pytest.skip(f"no MNIST test subset (IDX .gz images and labels) in {MNIST_SUBSET}")
    images, labels = data.read_idx(images_path), data.read_idx(labels_path).astype(np.int64)
    assert len(images) == len(labels) >= 1000
    score = evaluation.MNISTClassifier.load(CLASSIFIER).accuracy(images, labels)
    assert score.value >= 0.99, f"shipped classifier: {score}"
