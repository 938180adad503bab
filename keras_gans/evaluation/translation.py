"""How well an image-to-image translator does its MNIST task, on test pairs it never saw.

The MNIST-derived tasks (`keras_gans.data.mnist_task`) know the right answer for every test
digit, so a translator is measured against it:

- paired tasks (pix2pix: `mnist_edges`, `mnist_inpaint`): A = the task's input made from a
  test digit, B = the digit;
- unpaired tasks (CycleGAN: `mnist_invert`, `mnist_dilate`): A = a test digit, B = its known
  transform (`invert`, `dilate`). Training drew A and B from disjoint halves; here every
  test digit gives a pair, so the translation can be compared with the true one.

For each direction the model has (A -> B, and B -> A for a CycleGAN):

- `<direction>_l1`: mean absolute difference to the targets, images in [-1, 1];
- `<direction>_identity_l1`: the same for the identity mapping (the input as the answer),
  the reference a translator must beat;
- `<direction>_accuracy`: the shipped classifier's accuracy on the outputs, read as digits:
  B images mapped back by the task's known inverse where it has one (inverted digits are
  inverted back; dilated digits have none and are classified as they are);
- `<direction>_target_accuracy`: the same on the true targets, the ceiling.

A CycleGAN also gets its cycles: `a_to_b_to_a_l1` / `_accuracy` (F(G(a)) against a) and
`b_to_a_to_b_l1` / `_accuracy`.

`evaluate_translator` returns the `Score`s; `keras_gans.evaluation.report` (`keras-gans
evaluate NAME --dataset DIR`) prints them and writes them into the model's card.

Example:
    import keras_gans as kg
    from keras_gans.evaluation import translation

    scores = translation.evaluate_translator(
        kg.pretrained.load("pix2pix_mnist_edges"), "mnist_edges", "tests/data/mnist")
    scores["a_to_b_l1"].value, scores["a_to_b_identity_l1"].value, scores["a_to_b_accuracy"].value
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from keras_gans import contract, generators
from keras_gans.evaluation.features import load_classifier
from keras_gans.evaluation.scores import Score

__all__ = ["TaskPairs", "task_pairs", "task_of", "evaluate_translator", "format_translation_table"]

# B images of the unpaired tasks read as digits, on float images in [-1, 1]: the known
# inverse of the task's transform (255 - x is -x in [-1, 1]), or None when it has none.
_TO_DIGITS = {"mnist_invert": lambda x: -x, "mnist_dilate": None}


class TaskPairs:
    """The test pairs of an MNIST task: float32 `a`, `b` in [-1, 1], int `labels`, and how
    B images read as digits (`b_to_digits`, None when they are classified as they are)."""

    def __init__(self, task, a, b, labels, b_to_digits, b_read_as):
        self.task, self.a, self.b, self.labels = task, a, b, labels
        self.b_to_digits = b_to_digits
        self.b_read_as = b_read_as

    def __len__(self):
        return len(self.a)


def _float(images):
    return np.asarray(images, np.float32) / 127.5 - 1.0


def task_pairs(task: str, dataset: str | os.PathLike, split: str = "test", num_pairs: int | None = None) -> TaskPairs:
    """The pairs of `task` made from the first `num_pairs` digits of `dataset`'s `split`.

    Args:
        task: an MNIST task (`keras_gans.data.MNIST_TASKS`).
        dataset: a folder of MNIST IDX files (None for TFDS's `mnist`).
        split: "test" (the digits no shipped model trained on) or "train".
        num_pairs: how many; all when None.
    """
    from keras_gans.data import paired

    name = str(task).strip().lower().replace("-", "_")
    if name in paired.PAIRED_TASKS:
        a, b, labels = paired.mnist_task(name, dataset, split=split)
        b_to_digits, read_as = (lambda x: x), "as they are (digits)"
    elif name in paired.UNPAIRED_TASKS:
        from keras_gans.data import load_arrays

        digits, labels = load_arrays(dataset, split=split)
        if labels is None:
            raise ValueError(f"{dataset} has no labels for split {split!r}: the MNIST tasks need the labels file.")
        transform = paired.invert if name == "mnist_invert" else paired.dilate
        a, b = digits, transform(digits)
        inverse = _TO_DIGITS[name]
        b_to_digits = inverse or (lambda x: x)
        read_as = "mapped back by the task's inverse" if inverse else "as they are (the task has no inverse)"
    else:
        raise ValueError(f"Unknown MNIST task {task!r}; known: {', '.join(paired.MNIST_TASKS)}.")
    count = len(a) if num_pairs is None else min(int(num_pairs), len(a))
    return TaskPairs(name, _float(a[:count]), _float(b[:count]), np.asarray(labels[:count]).astype(np.int64),
                     b_to_digits, read_as)


def task_of(card: dict) -> str | None:
    """The MNIST task a translator's card says it was trained on (its training `--dataset`), or None."""
    from keras_gans.data import paired

    config = (card.get("training") or {}).get("config") or {}
    name = config.get("dataset")
    name = str(name).strip().lower().replace("-", "_") if name is not None else None
    return name if name in paired.MNIST_TASKS else None


def _l1(x, y):
    return float(np.mean(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))


def _score(name, value, n, **details):
    return Score(name, value, num_samples=n, details=details)


def evaluate_translator(
    translator: Any,
    task: str,
    dataset: str | os.PathLike,
    split: str = "test",
    num_pairs: int | None = None,
    classifier: Any = None,
    batch_size: int = 500,
    pairs: TaskPairs | None = None,
) -> dict[str, Score]:
    """L1 to the true translations, the identity mapping's L1 and the classifier's accuracy.

    Args:
        translator: a `kg.models.Pix2Pix` / `CycleGAN`, a `generators.Translator`, or a path
            or zoo name (`generators.as_translator`).
        task: the MNIST task it translates (`keras_gans.data.MNIST_TASKS`).
        dataset, split, num_pairs: where the pairs come from (see `task_pairs`).
        classifier: the MNIST classifier (None: the shipped one; or a path).
        batch_size: images per translator call and per classifier pass.
        pairs: precomputed `task_pairs` (then dataset, split and num_pairs are not read).

    Returns:
        {name: Score}, as the module docstring lists.

    Example:
        scores = evaluate_translator("cyclegan_mnist_invert", "mnist_invert", "tests/data/mnist")
        scores["a_to_b_accuracy"].value, scores["a_to_b_to_a_accuracy"].value
    """
    translator = generators.as_translator(translator)
    pairs = pairs or task_pairs(task, dataset, split, num_pairs)
    classifier = load_classifier(classifier, batch_size)
    n = len(pairs)

    def accuracy(images):
        return float(classifier.accuracy(images, pairs.labels).value)

    to_digits = {contract.A_TO_B: pairs.b_to_digits, contract.B_TO_A: lambda x: x}
    ends = {contract.A_TO_B: (pairs.a, pairs.b), contract.B_TO_A: (pairs.b, pairs.a)}
    read_as = {contract.A_TO_B: pairs.b_read_as, contract.B_TO_A: "as they are (digits)"}
    scores, outputs = {}, {}
    for direction in translator.directions:
        source, target = ends[direction]
        out = translator.translate(source, direction, batch_size=batch_size)
        outputs[direction] = out
        scores[f"{direction}_l1"] = _score(f"{direction}_l1", _l1(out, target), n, task=pairs.task)
        scores[f"{direction}_identity_l1"] = _score(
            f"{direction}_identity_l1", _l1(source, target), n, task=pairs.task, what="the input as the answer"
        )
        scores[f"{direction}_accuracy"] = _score(
            f"{direction}_accuracy", accuracy(to_digits[direction](out)), n, read_as=read_as[direction]
        )
        scores[f"{direction}_target_accuracy"] = _score(
            f"{direction}_target_accuracy", accuracy(to_digits[direction](target)), n,
            what="the true targets, read the same way",
        )
    if contract.B_TO_A in translator.directions:
        for first, second, start in (
            (contract.A_TO_B, contract.B_TO_A, pairs.a), (contract.B_TO_A, contract.A_TO_B, pairs.b),
        ):
            back = translator.translate(outputs[first], second, batch_size=batch_size)
            key = f"{first}_to_{second.split('_to_')[1]}"
            scores[f"{key}_l1"] = _score(f"{key}_l1", _l1(back, start), n, what="the cycle against its start")
            scores[f"{key}_accuracy"] = _score(
                f"{key}_accuracy", accuracy(to_digits[second](back)), n, read_as=read_as[second]
            )
    return scores


_PERCENT_SUFFIX = "accuracy"


def format_translation_table(scores: dict[str, Score]) -> str:
    """A markdown table of `evaluate_translator`'s scores: metric, value, pairs."""
    lines = ["| metric | value | pairs |", "|---|---|---|"]
    for key, score in scores.items():
        value = f"{100 * score.value:.2f}%" if key.endswith(_PERCENT_SUFFIX) else f"{score.value:.4f}"
        lines.append(f"| {key.replace('_', ' ')} | {value} | {score.num_samples} |")
    return "\n".join(lines)
