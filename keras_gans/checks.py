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
