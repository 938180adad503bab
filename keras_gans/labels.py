"""The one label check: class ids of a conditional generator's samples (NumPy only).

Every generator (an in-process GAN, a SavedModel, a server) checks labels here, so the
same bad labels give the same error from each.
"""

import numpy as np


def check_labels(labels, n, num_classes=None, conditional=None, name="this generator"):
    """The labels of n samples as int32 `[n]`, or None; the one label check of the project.

    Args:
        labels: None, one class id for all samples, or n class ids.
        n: number of samples.
        num_classes: K when known; ids are checked to be in [0, K).
        conditional: whether the generator takes labels (default: `num_classes` is given).
        name: how errors name the generator.

    Returns:
        None for an unconditional generator, or a conditional one given no labels whose
        classes are unknown (the export then gives the classes in turn); otherwise int32 `[n]`
        (the classes in turn, 0, 1, ..., K - 1, 0, ..., when None).

    Raises:
        ValueError: labels for an unconditional generator; not n integers; out of range.

    Example:
        >>> check_labels(None, 4, num_classes=3).tolist()
        [0, 1, 2, 0]
    """
    conditional = bool(num_classes) if conditional is None else bool(conditional)
    if not conditional:
        if labels is not None:
            raise ValueError(f"{name} is unconditional; it takes no labels.")
        return None
    if labels is None:
        return None if not num_classes else np.arange(n, dtype=np.int32) % int(num_classes)
    labels = np.asarray(labels)
    if labels.ndim == 0:
        labels = np.full([n], labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {n} integer class ids; got {labels.dtype} array of shape {labels.shape}.")
    if num_classes:
        bad = labels[(labels < 0) | (labels >= num_classes)]
        if bad.size:
            raise ValueError(f"labels must be in [0, {num_classes}); got {sorted(set(bad.tolist()))[:10]}.")
    return labels.astype(np.int32)
