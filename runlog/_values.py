"""Value coercion: what a logging call accepts, as pure functions.

The hot path accepts ``float``, ``int``, ``bool`` and ``str`` as they are; anything else
(numpy and torch scalars, Decimal, …) goes through `coerce` once, in the calling thread,
because a tensor may change after the call returns.
"""

from __future__ import annotations

import math
from typing import Any, Final

from runlog import conventions as c


class Invalid:
    """A value that cannot be logged; ``reason`` says why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Invalid({self.reason!r})"


PLAIN: Final = (float, int, bool, str)


def coerce(value: Any) -> float | int | bool | str | Invalid:
    """Turn *value* into float, int, bool or str, or an `Invalid` saying why not.

    numpy and torch scalars (and 0-d or 1-element arrays/tensors) become their Python
    value; so does anything with ``__float__``/``__index__``. Strings that look like numbers
    stay strings: converting them is the caller's job (DESIGN.md).
    """
    if type(value) in PLAIN:
        return value  # type: ignore[no-any-return]  # type(value) is one of PLAIN
    if isinstance(value, (bool, int, float, str)):  # subclasses, e.g. IntEnum, numpy.float64
        return _from_subclass(value)
    item = getattr(value, "item", None)
    if callable(item):
        return _from_item(value, item)
    if hasattr(value, "__index__"):
        return int(value.__index__())
    if hasattr(value, "__float__"):
        return _from_float(value)
    return Invalid(f"values must be float, int, bool or str; got {type(value).__name__}")


def _from_subclass(value: bool | int | float | str) -> float | int | bool | str:
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _from_item(value: Any, item: Any) -> float | int | bool | str | Invalid:
    size = getattr(value, "size", None)
    numel = getattr(value, "numel", None)
    count = numel() if callable(numel) else size
    if count is not None and count != 1:
        return Invalid(f"expected a scalar, got an array of {count} elements; use log_list")
    try:
        result = item()
    except (TypeError, ValueError, RuntimeError) as exc:
        return Invalid(f"cannot read a scalar from {type(value).__name__}: {exc}")
    if type(result) in PLAIN:
        return result  # type: ignore[no-any-return]  # type(result) is one of PLAIN
    return Invalid(f"{type(value).__name__}.item() gave {type(result).__name__}")


def _from_float(value: Any) -> float | Invalid:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        return Invalid(f"cannot convert {type(value).__name__} to float: {exc}")


def dtype_of(value: float | int | bool | str) -> str:
    """The wire dtype of a coerced value (large ints are floats: see `fit_int`)."""
    kind = type(value)
    if kind is float:
        return c.DTYPE_FLOAT
    if kind is bool:
        return c.DTYPE_BOOL
    if isinstance(value, int):
        return c.DTYPE_INT if c.INT64_MIN <= value <= c.INT64_MAX else c.DTYPE_FLOAT
    return c.DTYPE_STR


def check_step(step: Any) -> int | Invalid:
    """An explicit step as int64, or why it is not one (non-finite, fractional, too big)."""
    if type(step) is int and c.INT64_MIN < step <= c.INT64_MAX:
        return step
    value = coerce(step)
    if isinstance(value, (Invalid, str, bool)):
        return Invalid(f"step must be an integer, got {type(step).__name__} {step!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            return Invalid(f"step must be finite, got {value!r}")
        if not value.is_integer():
            return Invalid(f"step must be a whole number, got {value!r}")
        value = int(value)
    if not c.INT64_MIN < value <= c.INT64_MAX:
        return Invalid(f"step {value} is outside the 64-bit integer range")
    return value


def check_string(what: str, value: Any) -> str | Invalid:
    """A tag/param/property value as str (numbers formatted), or why not."""
    value = coerce(value) if value is not None else ""
    if isinstance(value, Invalid):
        return Invalid(f"{what}: {value.reason}")
    text = value if isinstance(value, str) else repr(value)
    if len(text) > c.MAX_VALUE_LENGTH:
        return Invalid(f"{what} is {len(text)} characters; the limit is {c.MAX_VALUE_LENGTH}")
    if not c.is_utf8(text):
        return Invalid(f"{what} {c.NOT_UTF8}")
    return text
