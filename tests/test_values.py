"""Value coercion: what logging calls accept (pure functions, parametrized tables)."""

from __future__ import annotations

import decimal
import enum
import math

import numpy as np
import pytest

from runlog import conventions as c
from runlog._values import Invalid, check_step, check_string, coerce, dtype_of


class Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, 0.5),
        (3, 3),
        (True, True),
        ("text", "text"),
        (np.float64(0.25), 0.25),
        (np.float32(0.5), 0.5),
        (np.int64(2**62), 2**62),
        (np.bool_(True), True),
        (np.array(1.5), 1.5),
        (np.array([7]), 7),
        (Level.HIGH, 3),
        (decimal.Decimal("1.25"), 1.25),
    ],
)
def test_coerce_converts_scalars_to_plain_python(value: object, expected: object) -> None:
    result = coerce(value)
    assert expected == result
    assert type(expected) is type(result)


@pytest.mark.parametrize("value", [object(), [1, 2], np.array([1.0, 2.0]), {"a": 1}, None])
def test_coerce_refuses_non_scalars_with_a_reason(value: object) -> None:
    result = coerce(value)
    assert isinstance(result, Invalid)
    assert result.reason


def test_coerce_torch_scalar_tensor() -> None:
    torch = pytest.importorskip("torch")
    assert 2.5 == coerce(torch.tensor(2.5))


@pytest.mark.parametrize(
    ("value", "dtype"),
    [
        (1.0, c.DTYPE_FLOAT),
        (1, c.DTYPE_INT),
        (False, c.DTYPE_BOOL),
        ("s", c.DTYPE_STR),
        (2**63 - 1, c.DTYPE_INT),
        (2**63, c.DTYPE_FLOAT),
        (-(2**63), c.DTYPE_INT),
    ],
)
def test_dtype_of(value: object, dtype: str) -> None:
    assert dtype == dtype_of(value)  # type: ignore[arg-type]  # the table's values are plain


@pytest.mark.parametrize(("step", "expected"), [(0, 0), (5, 5), (3.0, 3), (np.int32(4), 4)])
def test_check_step_accepts_integers(step: object, expected: int) -> None:
    assert expected == check_step(step)


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (math.nan, "finite"),
        (math.inf, "finite"),
        (1.5, "whole"),
        ("3", "integer"),
        (2**64, "range"),
        (True, "integer"),
    ],
)
def test_check_step_refuses_with_reason(step: object, reason: str) -> None:
    result = check_step(step)
    assert isinstance(result, Invalid)
    assert reason in result.reason


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.03, "0.03"), (1, "1"), ("x", "x"), (None, ""), (np.float64(0.5), "0.5"), (True, "True")],
)
def test_check_string_formats_values(value: object, text: str) -> None:
    assert text == check_string("param", value)


def test_check_string_refuses_over_long_values() -> None:
    result = check_string("tag 'x'", "a" * (c.MAX_VALUE_LENGTH + 1))
    assert isinstance(result, Invalid)
    assert "limit" in result.reason
