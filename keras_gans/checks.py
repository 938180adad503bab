"""The argument check the package shares: an integer with a lower bound (standard library only)."""

import numbers


def integer(value, name, minimum=1, why=""):
    """`value` as an int if it is an integer >= `minimum` (a bool is not), else a ValueError
    that names the argument, the bound and what was given.

    Example:
        >>> integer(3, "d_steps")
        3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}{why}; got {value!r}.")
    return int(value)


def translation_batch(images, expected, who, direction):
    """`(float32 batch in [-1, 1], whether one image was given)` of a translator's input.

    `images` is `[N, *expected]` or one `[*expected]` image, float in [-1, 1] or uint8 in
    [0, 255]; any other shape is refused with what `who` translates in `direction`.
    """
    import numpy as np

    expected = tuple(int(d) for d in expected)
    x = np.asarray(images)
    single = x.ndim == len(expected)
    if single:
        x = x[None]
    if tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"{who} translates ({direction}) images of shape {expected}; got images of "
            f"shape {tuple(np.shape(images))}."
        )
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 127.5 - 1.0
    return x.astype(np.float32, copy=False), single
