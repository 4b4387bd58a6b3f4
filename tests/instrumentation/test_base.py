"""The instrumentor contract (`runlog.instrumentation._base`) on a tiny real instrumentor.

``ColorInstrumentor`` wraps the standard library's ``colorsys.rgb_to_hsv`` (imported before
instrumenting) and ``tinylib.double`` (a module the test writes, imported only after
instrumenting: post-import wrapping). Its wrapper follows the shape the style guide asks
for: a module-level factory, the fast path first, runlog's own work inside `safely`.
"""

from __future__ import annotations

import colorsys
import importlib
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runlog.instrumentation import _base
from runlog.instrumentation._base import Instrumentor, Target, Wrapper, suppress, suppressed

TINYLIB = """
calls = []

def double(x):
    calls.append(x)
    if isinstance(x, int) and x < 0:
        raise ValueError(f"negative: {x}")
    return 2 * x

def quadruple(x):
    return double(double(x))
"""


def _record(seen: list[tuple[str, Any]], name: str, args: tuple[Any, ...]) -> None:
    if args and args[0] == "boom":
        raise RuntimeError("runlog's own bug")
    seen.append((name, args))


def _wrap_call(seen: list[tuple[str, Any]], name: str) -> Wrapper:
    """A wrapper recording each unsuppressed call of *name* into *seen*."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if suppressed():
            return wrapped(*args, **kwargs)
        _base.safely(f"test.{name}", _record, seen, name, args)
        with suppress():  # nested instrumented calls belong to this one
            return wrapped(*args, **kwargs)

    return wrapper


class ColorInstrumentor(Instrumentor):
    name = "color"
    libraries = ("colorsys",)

    def _setup(self) -> None:
        super()._setup()
        self.seen: list[tuple[str, Any]] = []

    def _targets(self) -> Iterable[Target]:
        return (
            Target("colorsys", "", "rgb_to_hsv", _wrap_call(self.seen, "rgb_to_hsv")),
            Target("tinylib", "", "double", _wrap_call(self.seen, "double")),
            Target("tinylib", "", "quadruple", _wrap_call(self.seen, "quadruple")),
        )


@pytest.fixture
def color(monkeypatch: pytest.MonkeyPatch) -> Iterator[ColorInstrumentor]:
    """The instrumentor, uninstrumented afterwards; each test's own once-per-site reports."""
    monkeypatch.setattr(_base, "_reported", set())
    instrumentor = ColorInstrumentor()
    instrumentor.seen.clear()
    yield instrumentor
    if instrumentor.is_instrumented:
        instrumentor.uninstrument()


@pytest.fixture
def tinylib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real module ``tinylib`` on the path, not imported yet."""
    (tmp_path / "tinylib.py").write_text(TINYLIB)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("tinylib", None)
    yield tmp_path
    sys.modules.pop("tinylib", None)


def test_uninstrumented_does_nothing(color: ColorInstrumentor) -> None:
    original = colorsys.rgb_to_hsv
    assert (0.0, 0.0, 1.0) == colorsys.rgb_to_hsv(1.0, 1.0, 1.0)
    assert [] == color.seen
    assert original is colorsys.rgb_to_hsv
    assert not color.is_instrumented


def test_instrumented_call_is_recorded_and_returns_the_original_result(
    color: ColorInstrumentor,
) -> None:
    color.instrument()
    assert (0.0, 0.0, 1.0) == colorsys.rgb_to_hsv(1.0, 1.0, 1.0)
    assert [("rgb_to_hsv", (1.0, 1.0, 1.0))] == color.seen


def test_one_instance_per_class(color: ColorInstrumentor) -> None:
    assert color is ColorInstrumentor()


def test_double_instrument_warns_and_keeps_one_wrapper(
    color: ColorInstrumentor, internal_log: pytest.LogCaptureFixture
) -> None:
    color.instrument(option=1)
    color.instrument(option=2)
    assert ["runlog: color is already instrumented"] == internal_log.messages
    assert {"option": 1} == color.options
    colorsys.rgb_to_hsv(0.0, 0.0, 0.0)
    assert 1 == len(color.seen)  # wrapped once, not twice


def test_double_uninstrument_warns(
    color: ColorInstrumentor, internal_log: pytest.LogCaptureFixture
) -> None:
    original = colorsys.rgb_to_hsv
    color.instrument()
    color.uninstrument()
    color.uninstrument()
    assert ["runlog: color is not instrumented"] == internal_log.messages
    assert original is colorsys.rgb_to_hsv


def test_uninstrument_restores_the_original(color: ColorInstrumentor) -> None:
    original = colorsys.rgb_to_hsv
    color.instrument()
    assert original is not colorsys.rgb_to_hsv
    color.uninstrument()
    assert original is colorsys.rgb_to_hsv
    colorsys.rgb_to_hsv(0.0, 0.0, 0.0)
    assert [] == color.seen


def test_uninstrument_leaves_what_the_user_put_there(
    color: ColorInstrumentor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only real wrapt proxies are unwrapped: a replacement made since stays."""

    def users_own(r: float, g: float, b: float) -> tuple[float, float, float]:
        return (r, g, b)

    color.instrument()
    monkeypatch.setattr(colorsys, "rgb_to_hsv", users_own)
    color.uninstrument()
    assert users_own is colorsys.rgb_to_hsv


def test_user_exception_propagates_untouched(color: ColorInstrumentor, tinylib: Path) -> None:
    color.instrument()
    import tinylib as lib

    with pytest.raises(ValueError, match="negative: -1") as raised:
        lib.double(-1)
    assert raised.type is ValueError
    assert "double" == raised.traceback[-1].name  # raised in the user's frame, unchanged
    assert [-1] == lib.calls  # the original ran exactly once


def test_original_is_called_exactly_once(color: ColorInstrumentor, tinylib: Path) -> None:
    color.instrument()
    import tinylib as lib

    assert 6 == lib.double(3)
    assert [3] == lib.calls


def test_internal_error_does_not_break_the_call(
    color: ColorInstrumentor,
    tinylib: Path,
    internal_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(_base.ENV_STRICT, "0")
    color.instrument()
    import tinylib as lib

    assert "boomboom" == lib.double("boom")
    assert "boomboom" == lib.double("boom")
    assert ["boom", "boom"] == lib.calls  # the original ran once per call
    reports = [r for r in internal_log.records if "test.double failed" in r.getMessage()]
    assert 1 == len(reports)  # logged once per site, not per call
    assert (logging.WARNING, None) == (reports[0].levelno, reports[0].exc_info)  # one line
    [traceback] = [r for r in internal_log.records if r.exc_info]  # at DEBUG only
    assert (logging.DEBUG, RuntimeError) == (traceback.levelno, traceback.exc_info[0])


def test_internal_error_raises_in_strict_mode(
    color: ColorInstrumentor, tinylib: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_base.ENV_STRICT, "1")
    color.instrument()
    import tinylib as lib

    with pytest.raises(RuntimeError, match="runlog's own bug"):
        lib.double("boom")


def test_module_imported_later_is_wrapped_on_import(
    color: ColorInstrumentor, tinylib: Path
) -> None:
    assert "tinylib" not in sys.modules
    color.instrument()
    assert "tinylib" not in sys.modules  # instrumenting imports nothing
    lib = importlib.import_module("tinylib")
    lib.double(2)
    assert [("double", (2,))] == color.seen


def test_module_imported_after_uninstrument_is_not_wrapped(
    color: ColorInstrumentor, tinylib: Path
) -> None:
    color.instrument()
    color.uninstrument()
    lib = importlib.import_module("tinylib")
    lib.double(2)
    assert [] == color.seen


def test_nested_instrumented_calls_are_recorded_once(
    color: ColorInstrumentor, tinylib: Path
) -> None:
    color.instrument()
    import tinylib as lib

    assert 12 == lib.quadruple(3)
    assert [("quadruple", (3,))] == color.seen  # the two inner doubles were suppressed
    assert [3, 6] == lib.calls


def test_suppress_block_records_nothing(color: ColorInstrumentor) -> None:
    color.instrument()
    with suppress():
        assert suppressed()
        colorsys.rgb_to_hsv(1.0, 0.0, 0.0)
    assert not suppressed()
    colorsys.rgb_to_hsv(0.0, 1.0, 0.0)
    assert [("rgb_to_hsv", (0.0, 1.0, 0.0))] == color.seen


def test_instrumentation_dependencies_for_opentelemetry(color: ColorInstrumentor) -> None:
    assert ("colorsys",) == tuple(color.instrumentation_dependencies())
