"""How good and how diverse are a generator's samples: measured, beside the real data's own values.

`evaluate_generator` draws samples from any generator (an in-memory GAN, a `pretrained` model,
an exported SavedModel or a served one through its `sample` signature, or anything with
`sample(n, seed=..., labels=...)`) and scores them with the MNIST classifier
(`keras_gans.evaluation.MNISTClassifier`):

- MNIST FID and KID against the real images, in the classifier's 128-d feature space;
- MNIST IS from its class probabilities;
- unconditional models: the class balance of the samples (per the classifier), as the
  normalized entropy and the smallest and largest class fractions;
- conditional models: label accuracy, the fraction of samples classified as the label asked
  (labels cycling through the classes).

`evaluate_real` gives the same numbers for real data, the reference every generator is read
against: IS of the real test images, FID/KID of a training subset of the same size against
the test images (the floor a perfect generator would reach at this sample count), the real
class balance and the classifier's accuracy. `evaluate_images` scores two sets of images with
any extractor.

`report` runs all of this (and, if asked, `memorisation_check`), prints a markdown table and
writes the record into the model's card; it is `keras-gans evaluate MODEL --dataset DIR`
(keras_gans/cli/evaluate.py). Given an image-to-image translator (pix2pix, CycleGAN), it
measures it on its MNIST task's test pairs instead (`keras_gans.evaluation.translation`: L1
to the true translations beside the identity mapping's, the classifier's accuracy on the
outputs and, for a CycleGAN, on its cycles), into the same kind of record.

Example:
    import keras_gans as kg
    from keras_gans import evaluation

    test_images, test_labels = kg.data.load_arrays("../shared/data/mnist", split="test")
    scores = evaluation.evaluate_generator(kg.pretrained.load("dcgan_mnist"), test_images)
    print(evaluation.format_table(scores))
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from keras_gans import generators, layout, record_paths
from keras_gans.evaluation.features import (
    FeatureExtractor,
    compute_activations,
    compute_features,
    default_classifier_path,
    load_classifier,
)
from keras_gans.evaluation.memorisation import memorisation_check
from keras_gans.evaluation.sampling import generate_samples
from keras_gans.evaluation.scores import (
    Score,
    class_distribution,
    fid,
    inception_score,
    kid,
    label_accuracy,
)

__all__ = [
    "evaluate_images",
    "evaluate_generator",
    "evaluate_real",
    "format_table",
    "update_card",
    "report",
]


# --------------------------------------------------------------------------- scores


def _class_scores(probabilities: np.ndarray) -> dict[str, Score]:
    dist = class_distribution(probabilities)
    n, details = dist.num_samples, dist.to_dict()
    return {
        # + 0.0: a one-class set has entropy -0.0.
        "class_balance": Score("class_balance", dist.normalized_entropy + 0.0, num_samples=n, details=details),
        "min_class_fraction": Score(
            "min_class_fraction", dist.min_fraction, num_samples=n,
            details={"class": int(np.argmin(dist.fractions))},
        ),
        "max_class_fraction": Score(
            "max_class_fraction", dist.max_fraction, num_samples=n,
            details={"class": int(np.argmax(dist.fractions))},
        ),
    }


def _image_scores(extractor, fake_features, fake_probs, real_features, splits, kid_subsets, kid_subset_size, seed):
    """IS of the fakes and, with `real_features`, FID and KID against them; each names the extractor."""
    scores = {"inception_score": inception_score(fake_probs, splits=min(splits, len(fake_probs)))}
    if real_features is not None:
        scores["fid"] = fid(real_features, fake_features)
        scores["kid"] = kid(
            real_features, fake_features, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
        )
    name = getattr(extractor, "name", type(extractor).__name__)
    for score in scores.values():
        score.details["extractor"] = name
    return {key: scores[key] for key in _ORDER if key in scores}


def evaluate_generator(
    generator_or_gan: Any,
    real_images: Any,
    real_labels: Any = None,
    classifier: Any = None,
    num_samples: int = 10000,
    seed: int = 0,
    batch_size: int = 500,
    *,
    splits: int = 10,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    real_features: np.ndarray | None = None,
) -> dict[str, Score]:
    """MNIST FID, IS and KID of a generator, with its class balance or label accuracy.

    Args:
        generator_or_gan: a GAN, a pretrained model, a SavedModel (loaded, or its path), or
            anything with `sample(n, seed=, labels=)` (see `keras_gans.generators.as_generator`).
        real_images: the reference images (uint8 or float [-1, 1]), e.g. the MNIST test split.
        real_labels: their labels; not needed for the generator's scores (accepted so the
            call mirrors `evaluate_real`).
        classifier: the feature extractor (None: the shipped MNIST classifier; or a path).
        num_samples: generated samples (FID is biased by sample count: compare at equal N).
        seed: evaluation seed (samples, KID subsets).
        batch_size: samples per generator call and per classifier pass.
        splits: IS splits.
        kid_subsets, kid_subset_size: KID subsets.
        real_features: precomputed classifier features of `real_images` (saves recomputing
            them when evaluating several generators).

    Returns:
        {"fid", "inception_score", "kid"} and, for an unconditional generator,
        {"class_balance" (normalized entropy of the predicted classes, 1 = balanced),
        "min_class_fraction", "max_class_fraction"}; for a conditional one, "label_accuracy"
        (on labels cycling through the classes). Each a `Score` stating its sample counts.

    Example:
        scores = evaluate_generator(gan, test_images, num_samples=10000)
        scores["fid"].value, scores["inception_score"].value
    """
    del real_labels  # the generator's scores need none; see evaluate_real
    extractor = load_classifier(classifier, batch_size)
    samples, asked = generate_samples(
        generator_or_gan, num_samples, seed, batch_size, num_classes=getattr(extractor, "num_classes", None)
    )
    fake_features, fake_probs = compute_activations(extractor, samples, batch_size)
    if real_features is None:
        real_features = compute_features(extractor, real_images, batch_size)
    scores = _image_scores(
        extractor, fake_features, fake_probs, real_features, splits, kid_subsets, kid_subset_size, seed
    )
    if asked is None:
        scores.update(_class_scores(fake_probs))
    else:
        scores["label_accuracy"] = label_accuracy(fake_probs, asked)
    return scores


def evaluate_real(
    real_images: Any,
    real_labels: Any = None,
    train_images: Any = None,
    classifier: Any = None,
    num_samples: int = 10000,
    seed: int = 0,
    batch_size: int = 500,
    *,
    splits: int = 10,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
) -> dict[str, Score]:
    """The real data's own values, the reference for `evaluate_generator`'s.

    IS, class balance (and, with labels, the classifier's accuracy, as "label_accuracy") of
    the real images; with `train_images`, FID and KID of a random training subset of
    `min(num_samples, len(train_images))` images against the real images: what a generator
    sampling the data distribution itself would score at that sample count (the floor).

    Args:
        real_images: the reference images (e.g. the test split).
        real_labels: their labels, for the classifier's accuracy.
        train_images: the training split (for the FID/KID floor).
        classifier, num_samples, seed, batch_size, splits, kid_subsets, kid_subset_size: as
            for `evaluate_generator`.

    Example:
        floor = evaluate_real(test_images, test_labels, train_images)
        floor["fid"].value   # FID of 10,000 training digits vs the test digits
    """
    extractor = load_classifier(classifier, batch_size)
    real_features, probs = compute_activations(extractor, real_images, batch_size)
    scores = {"inception_score": inception_score(probs, splits=min(splits, len(probs)))}
    scores["inception_score"].details["extractor"] = getattr(extractor, "name", "")
    if train_images is not None:
        count = min(int(num_samples), len(train_images))
        pick = np.sort(np.random.default_rng(seed).choice(len(train_images), count, replace=False))
        train_features = compute_features(extractor, np.asarray(train_images)[pick], batch_size)
        scores["fid"] = fid(real_features, train_features)
        scores["kid"] = kid(
            real_features, train_features, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
        )
        for key in ("fid", "kid"):
            scores[key].details.update(extractor=getattr(extractor, "name", ""), what="training subset vs real images")
    scores.update(_class_scores(probs))
    if real_labels is not None:
        accuracy = label_accuracy(probs, np.asarray(real_labels).astype(np.int64))
        scores["label_accuracy"] = dataclasses.replace(
            accuracy, details={**accuracy.details, "what": "classifier accuracy on the real labels"}
        )
    return {key: scores[key] for key in _ORDER if key in scores}


_ORDER = (
    "fid", "inception_score", "kid", "class_balance", "min_class_fraction", "max_class_fraction",
    "label_accuracy",
)
_LABELS = {
    "fid": "FID",
    "inception_score": "IS",
    "kid": "KID",
    "class_balance": "class balance (entropy / log K)",
    "min_class_fraction": "smallest class",
    "max_class_fraction": "largest class",
    "label_accuracy": "label accuracy",
}
_PERCENT = ("min_class_fraction", "max_class_fraction", "label_accuracy")


def _metric_name(key, score):
    label = _LABELS.get(key, key)
    if key in ("fid", "inception_score") and score.details.get("extractor") == "mnist_classifier":
        return "MNIST " + label
    if key == "kid" and score.details.get("extractor") == "mnist_classifier":
        return "KID (MNIST features)"
    if key in ("min_class_fraction", "max_class_fraction") and "class" in score.details:
        return f"{label} (digit {score.details['class']})"
    return label


def _value(key, value):
    if value is None:
        return ""
    return f"{100 * value:.2f}%" if key in _PERCENT else f"{value:.4g}"


def _samples(score):
    if score.num_reference is not None:
        return f"{score.num_samples} vs {score.num_reference}"
    return str(score.num_samples)


def _real_cell(key, score):
    if score is None:
        return ""
    where = _samples(score)
    if key in ("min_class_fraction", "max_class_fraction") and "class" in score.details:
        where = f"digit {score.details['class']}, {where}"
    return f"{_value(key, score.value)} ({where})"


def format_table(scores: dict, real: dict | None = None) -> str:
    """A markdown table: metric, value, +- std, samples (and the real data's value beside them).

    Args:
        scores: from `evaluate_generator`.
        real: from `evaluate_real`, or None.

    Example:
        print(format_table(evaluate_generator(gan, test), evaluate_real(test, labels, train)))
    """
    header = ["metric", "value", "± std", "samples"]
    if real:
        header.append("real data")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    present = set(scores) | set(real or {})
    keys = [k for k in _ORDER if k in present] + [k for k in scores if k not in _ORDER]
    for key in keys:
        score = scores.get(key)
        if score is None:  # the real data's only, e.g. the classifier's accuracy
            name = "classifier accuracy" if key == "label_accuracy" else _metric_name(key, real[key])
            row = [name, "", "", ""]
        else:
            row = [_metric_name(key, score), _value(key, score.value), _value(key, score.std), _samples(score)]
        if real:
            row.append(_real_cell(key, real.get(key)))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def evaluate_images(
    extractor: FeatureExtractor,
    fake_images: Any,
    real_images: Any = None,
    *,
    splits: int = 10,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
    batch_size: int = 1000,
) -> dict[str, Score]:
    """IS of `fake_images`, and FID and KID against `real_images` when given, with one extractor.

    Args:
        extractor: a `FeatureExtractor` (e.g. `MNISTClassifier`, `InceptionV3Extractor`).
        fake_images: generated images (array or iterable of batches; uint8 or float [-1, 1]).
        real_images: reference images, or None for IS only.
        splits: IS splits.
        kid_subsets, kid_subset_size, seed: KID subsets.
        batch_size: chunk size for feature extraction.

    Returns:
        {"inception_score": Score, "fid": Score, "kid": Score} (the last two with real_images),
        each with `details["extractor"]` naming the extractor.

    Example:
        scores = evaluate_images(clf, gan.sample(10000), test_images)
    """
    fake_features, fake_probs = compute_activations(extractor, fake_images, batch_size)
    real_features = None if real_images is None else compute_features(extractor, real_images, batch_size)
    return _image_scores(
        extractor, fake_features, fake_probs, real_features, splits, kid_subsets, kid_subset_size, seed
    )


# --------------------------------------------------------------------------- cards


def update_card(card_dir: str | os.PathLike, record: dict, version: int | None = None) -> dict:
    """Writes `record` (measured metrics) into `card_dir/card.json` under "metrics".

    Also under `versions[<version>]["metrics"]` when the version is known. Atomic (written
    beside, then renamed), like the exporter's own card writes. Paths are written as
    `keras_gans.record_paths.portable` has it: the measured SavedModel and the classifier
    relative to `card_dir`, no absolute path of this machine.

    Returns:
        The updated card.
    """
    card = layout.read_card(card_dir)
    record = record_paths.portable(layout.jsonable(record), card_dir)
    card["metrics"] = record
    if version is not None:
        card.setdefault("versions", {}).setdefault(str(version), {})["metrics"] = record
    return layout.write_card(card_dir, card)


# --------------------------------------------------------------------------- the whole report


def report(
    model: str | os.PathLike,
    dataset: str | os.PathLike,
    *,
    split: str = "test",
    train_dataset: str | os.PathLike | None = None,
    train_split: str = "train",
    num_samples: int = 10000,
    seed: int = 0,
    batch_size: int = 500,
    classifier: str | os.PathLike | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    floor: bool = True,
    write_card: bool = False,
    memorisation_png: str | os.PathLike | None = None,
    memorisation_samples: int = 1000,
    grid_samples: int = 16,
    k: int = 3,
    json_path: str | os.PathLike | None = None,
    command: str | None = None,
    task: str | None = None,
) -> dict:
    """Measures a generator (or a translator) and prints a markdown table of its metrics
    (`keras-gans evaluate`).

    Args:
        model: a name in saved_models/, a model base path (latest version), a SavedModel
            version folder, a .keras file or a run folder (see `keras_gans.generators.as_generator`).
        dataset, split: the real images to compare with (MNIST IDX folder, .npz, image
            folder or TFDS name).
        train_dataset, train_split: training images for the real floor and the memorisation
            check (default: `dataset`, when it has `train_split`).
        num_samples, seed, batch_size: generated samples, the evaluation seed, images per batch.
        classifier: the MNIST classifier .keras file (default: the shipped one).
        kid_subsets, kid_subset_size: KID's subsets.
        floor: also measure the real data (the values a perfect generator would reach).
        write_card: write the record into the model's card.json (key "metrics").
        memorisation_png: also run the memorisation check and write its grid here.
        memorisation_samples, grid_samples, k: the memorisation check's sample count,
            samples shown, and training neighbours shown per sample.
        json_path: also write the record as JSON there.
        command: the command line recorded (e.g. "keras-gans evaluate dcgan_mnist ...").
        task: a translator's MNIST task (`keras_gans.data.MNIST_TASKS`); None for the one
            its card records. A translator is measured on the first `num_samples` pairs of
            `split` (`translation.evaluate_translator`); the floor, train and memorisation
            arguments are for generators only.

    Returns:
        The record (what the card and the JSON file hold).

    Example:
        evaluation.report("dcgan_mnist", "../shared/data/mnist", num_samples=2000)
    """
    from keras_gans import data

    started = time.time()
    gen = generators.as_model(model)
    if isinstance(gen, generators.Translator):
        return _translator_report(
            gen, model, dataset, split=split, num_samples=num_samples, seed=seed, batch_size=batch_size,
            classifier=classifier, write_card=write_card, json_path=json_path, command=command, task=task,
            started=started,
        )
    info = {"kind": gen.kind, "path": str(gen.path), "version": gen.version, "card_dir": gen.card_dir}
    if write_card and info["card_dir"] is None:
        raise ValueError(
            f"--update-card: {model} has no card.json beside it (cards live in a model's base "
            "path, e.g. saved_models/NAME/card.json)."
        )
    classifier_path = Path(classifier) if classifier else default_classifier_path()
    classifier = load_classifier(classifier_path, batch_size)
    real_images, real_labels = data.load_arrays(dataset, split=split)

    train_images = None
    train_source = train_dataset or dataset
    wants_train = memorisation_png is not None or floor
    if wants_train:
        try:
            train_images, _ = data.load_arrays(train_source, split=train_split)
        except ValueError as error:
            if train_dataset is not None or memorisation_png is not None:
                raise
            print(f"note: no training split ({error}); the floor has no FID/KID.", file=sys.stderr)

    common = dict(
        classifier=classifier, num_samples=num_samples, seed=seed, batch_size=batch_size,
        kid_subsets=kid_subsets, kid_subset_size=kid_subset_size,
    )
    real_features = compute_features(classifier, real_images, batch_size)
    scores = evaluate_generator(gen, real_images, real_labels, real_features=real_features, **common)
    real = evaluate_real(real_images, real_labels, train_images, **common) if floor else None

    print(f"{info['path']} ({info['kind']}), {num_samples} samples, seed {seed}, "
          f"against {len(real_images)} images of {dataset} ({split})\n")
    print(format_table(scores, real))
    if real is not None and "fid" in real:
        print(f"\nreal data: IS, class balance and accuracy of the {split} split; FID/KID of "
              f"{real['fid'].num_samples} random {train_split} images vs the {split} split.")

    memorisation = None
    if memorisation_png is not None:
        memorisation = memorisation_check(
            gen, train_images, real_images, classifier=classifier,
            num_samples=memorisation_samples, grid_samples=grid_samples, k=k,
            seed=seed, batch_size=batch_size, png_path=memorisation_png,
        )
        print("\nmemorisation check (nearest training image):\n")
        print(memorisation.format_table())
        if memorisation.png_path:
            print(f"\nwrote {memorisation.png_path}: each row a sample, its {k} nearest training images "
                  f"in pixels, a grey tile, its {k} nearest in classifier features.")

    record = {
        "num_samples": num_samples,
        "seed": seed,
        "batch_size": batch_size,
        "command": command,
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_seconds": round(time.time() - started, 1),
        "source": {"kind": info["kind"], "path": info["path"], "version": info["version"]},
        "dataset": {"path": str(dataset), "split": split, "num_images": int(len(real_images))},
        "classifier": {"path": str(classifier_path), "sha256": layout.file_sha256(classifier_path)},
        "scores": {key: score.to_dict() for key, score in scores.items()},
        "real": None if real is None else {key: score.to_dict() for key, score in real.items()},
    }
    if real is not None and train_images is not None:
        record["real"]["train"] = {"path": str(train_source), "split": train_split}
    if memorisation is not None:
        record["memorisation"] = memorisation.to_dict()
    if write_card:
        update_card(info["card_dir"], record, info["version"])
        print(f"\nwrote the metrics into {Path(info['card_dir']) / 'card.json'}")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        layout.write_json(json_path, record)
    return record


def _translator_report(translator, model, dataset, *, split, num_samples, seed, batch_size, classifier,
                       write_card, json_path, command, task, started):
    """`report` for an image-to-image translator: its task's test pairs, the table, the card."""
    from keras_gans.evaluation import translation

    card_dir = translator.card_dir
    if write_card and card_dir is None:
        raise ValueError(
            f"--update-card: {model} has no card.json beside it (cards live in a model's base "
            "path, e.g. saved_models/NAME/card.json)."
        )
    card = layout.read_card(card_dir) if card_dir is not None else {}
    task = task or translation.task_of(card)
    if task is None:
        raise ValueError(
            f"{model} is a translator, and its card names no MNIST task it was trained on: pass "
            "--task (mnist_edges, mnist_inpaint, mnist_invert or mnist_dilate)."
        )
    classifier_path = Path(classifier) if classifier else default_classifier_path()
    pairs = translation.task_pairs(task, dataset, split, num_samples)
    scores = translation.evaluate_translator(
        translator, task, dataset, classifier=load_classifier(classifier_path, batch_size),
        batch_size=batch_size, pairs=pairs,
    )
    print(f"{translator.path} ({translator.kind}, {translator.family}), task {pairs.task}: "
          f"{len(pairs)} pairs from the {split} split of {dataset}\n")
    print(translation.format_translation_table(scores))
    record = {
        "num_samples": len(pairs),
        "seed": seed,
        "batch_size": batch_size,
        "command": command,
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_seconds": round(time.time() - started, 1),
        "source": {"kind": translator.kind, "path": str(translator.path), "version": translator.version},
        "task": pairs.task,
        "dataset": {"path": str(dataset), "split": split, "num_images": len(pairs)},
        "classifier": {"path": str(classifier_path), "sha256": layout.file_sha256(classifier_path)},
        "scores": {key: score.to_dict() for key, score in scores.items()},
        "real": None,
    }
    if write_card:
        update_card(card_dir, record, translator.version)
        print(f"\nwrote the metrics into {Path(card_dir) / 'card.json'}")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        layout.write_json(json_path, record)
    return record
