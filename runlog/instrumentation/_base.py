"""The instrumentor contract every auto-instrumentation of runlog follows.

It is OpenTelemetry's contract (``opentelemetry-instrumentation``'s ``BaseInstrumentor``)
without depending on that package:

- `Instrumentor.instrument` / `Instrumentor.uninstrument` are idempotent (a second call warns
  and returns) and both walk **one table of targets** (`Instrumentor._targets`), so they
  cannot drift apart. `unwrap` restores only real wrapt proxies.
- Targets in libraries that are not imported yet are wrapped when the library is imported
  (wrapt's post-import hooks), so ``autolog()`` never imports torch or scikit-learn itself.
- The safety contract: a wrapper calls the original exactly once; the user's exceptions
  propagate untouched; runlog's own errors are logged once per site and swallowed (`safely`),
  except in strict mode (``RUNLOG_INSTRUMENTATION_STRICT=1``, set by the test suite), where
  they raise so CI catches them.
- `suppressed` / `suppress`: a context in which instrumented calls are not recorded (a
  Pipeline's inner fits, ``fit`` calling ``score``, runlog's own use of the library).

The instrumentors also register as ``opentelemetry_instrumentor`` entry points, so
``opentelemetry-instrument python train.py`` discovers them (it calls ``instrument()``).
"""

from __future__ import annotations

import copy
import logging
import os
import pkgutil
import threading
import types
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import wrapt

from runlog import _guard, _objects
from runlog import conventions as c
from runlog._objects import Run

_log = logging.getLogger("runlog.internal")

#: Set to ``1`` to make runlog's own errors inside instrumentation raise (tests, CI).
ENV_STRICT = c.ENV_INSTRUMENTATION_STRICT

_SUPPRESSED: ContextVar[bool] = ContextVar("runlog_instrumentation_suppressed", default=False)
_reported: set[str] = set()
_T = TypeVar("_T")

#: What every wrapt proxy is an instance of (wrapt 2 renamed the C base class).
_PROXY: type = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)
#: Keywords ``opentelemetry-instrument`` passes to every instrumentor; not ours to check.
_OTEL_OPTIONS = frozenset(
    {"skip_dep_check", "tracer_provider", "meter_provider", "logger_provider"}
)
#: A wrapt wrapper: ``wrapper(wrapped, instance, args, kwargs)``.
Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Target:
    """One thing to wrap: ``owner.attribute`` (a module, or a class for methods).

    ``module`` is the module that must be imported before ``owner`` can be resolved;
    ``owner`` is a dotted path inside it (``""`` for the module itself); ``wrapper`` is the
    wrapt wrapper to install.
    """

    module: str
    owner: str
    attribute: str
    wrapper: Wrapper


def strict() -> bool:
    """Tell whether runlog's own errors in instrumentation raise (test mode)."""
    return os.environ.get(ENV_STRICT, "") not in ("", "0", "false", "False")


def suppressed() -> bool:
    """Tell whether instrumented calls are not to be recorded in this context."""
    return _SUPPRESSED.get()


@contextmanager
def suppress() -> Iterator[None]:
    """Do not record instrumented calls made inside this block (nested fits, own calls)."""
    token = _SUPPRESSED.set(True)
    try:
        yield
    finally:
        _SUPPRESSED.reset(token)


def safely(site: str, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T | None:
    """Run runlog's own *function*; log its error once per *site* and return None.

    The call runs inside runlog's logging guard (so records it logs do not loop back into
    the run) and inside `suppress` (so its own use of the instrumented library is not
    recorded). In strict mode the error propagates.
    """
    guard = _guard.INSIDE.set(True)
    token = _SUPPRESSED.set(True)
    try:
        return function(*args, **kwargs)
    except Exception as exc:
        if strict():
            raise
        report_once(site, exc)
        return None
    finally:
        _SUPPRESSED.reset(token)
        _guard.INSIDE.reset(guard)


def report_once(
    site: str,
    error: BaseException,
    message: str = "runlog instrumentation: %s failed; training goes on",
) -> None:
    """Report runlog's own *error* at *site* on ``runlog.internal``, once per site.

    One line at WARNING (what the default handler writes to stderr), the error and its
    traceback at DEBUG only: runlog's traceback in the user's stderr reads as the script's
    own failure, and ``runlog run`` took it for the run's error, ahead of the user's.
    """
    if site in _reported:
        return
    _reported.add(site)
    _log.warning(message, site)
    _log.debug("runlog instrumentation: %s: %r", site, error, exc_info=error)


def current_run() -> Run | None:
    """The run instrumented calls land in, if one is active, else None.

    Active means: the innermost run started in this process and not finished, else the
    run this process was launched for (``runlog run``, a submitted run: ``RUNLOG_RUN_ID``).
    """
    return _objects.current_run()


def resolve(module: Any, dotted: str) -> Any:
    """Follow a dotted attribute path from *module* (``""`` is the module itself)."""
    owner = module
    for part in filter(None, dotted.split(".")):
        owner = getattr(owner, part)
    return owner


def unwrap(owner: Any, attribute: str) -> bool:
    """Restore ``owner.attribute`` if (and only if) it is a wrapt proxy installed there."""
    current = (owner.__dict__ if isinstance(owner, type) else vars(owner)).get(attribute)
    if isinstance(current, _PROXY) and hasattr(current, "__wrapped__"):
        setattr(owner, attribute, current.__wrapped__)
        return True
    return False


class Instrumentor:
    """Base of runlog's instrumentors: one instance per class (a singleton, as in OTel).

    Subclasses set `name` and `libraries` and implement `_targets`; they may extend
    `_on_instrument` / `_on_uninstrument` for state that is not a wrapped attribute.
    """

    name: ClassVar[str] = "instrumentor"
    #: Distribution requirements, for ``opentelemetry-instrument``'s dependency check.
    libraries: ClassVar[tuple[str, ...]] = ()
    _instances: ClassVar[dict[type[Instrumentor], Instrumentor]] = {}

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls not in Instrumentor._instances:
            instance = super().__new__(cls)
            instance._setup()
            Instrumentor._instances[cls] = instance
        return Instrumentor._instances[cls]

    def _setup(self) -> None:
        self._lock = threading.RLock()
        self._instrumented = False
        self._options: dict[str, Any] = {}
        self._wrapped: list[tuple[Any, str]] = []
        self._pending: set[str] = set()

    # --- the public contract ---------------------------------------------------------------
    @property
    def is_instrumented(self) -> bool:
        """Whether `instrument` is in effect."""
        return self._instrumented

    @property
    def options(self) -> dict[str, Any]:
        """The keyword options `instrument` was called with."""
        return self._options

    def instrumentation_dependencies(self) -> Collection[str]:
        """The libraries this instruments (OTel's ``BaseInstrumentor`` method)."""
        return self.libraries

    def instrument(self, **options: Any) -> None:
        """Wrap every target (now, or when its module is imported). Idempotent."""
        with self._lock:
            if self._instrumented:
                _log.warning("runlog: %s is already instrumented", self.name)
                return
            self._instrumented = True
            self._options = {k: v for k, v in options.items() if k not in _OTEL_OPTIONS}
            safely(f"{self.name}.instrument", self._on_instrument)
            for module in sorted(self._hooked_modules()):
                self._pending.add(module)
                wrapt.register_post_import_hook(self._module_imported, module)

    def uninstrument(self, **options: Any) -> None:
        """Restore every wrapped target. Idempotent."""
        with self._lock:
            if not self._instrumented:
                _log.warning("runlog: %s is not instrumented", self.name)
                return
            self._instrumented = False
            self._pending.clear()
            for owner, attribute in reversed(self._wrapped):
                unwrap(owner, attribute)
            self._wrapped.clear()
            safely(f"{self.name}.uninstrument", self._on_uninstrument)

    # --- for subclasses -------------------------------------------------------------------
    def _targets(self) -> Iterable[Target]:
        """The one table of targets that both `instrument` and `uninstrument` walk."""
        return ()

    def _on_instrument(self) -> None:
        """Extra set-up when instrumenting (optional)."""

    def _on_uninstrument(self) -> None:
        """Extra tear-down when uninstrumenting (optional)."""

    def _hooked_modules(self) -> set[str]:
        """Modules whose import triggers wrapping; default: those of the target table."""
        return {target.module for target in self._targets()}

    def _targets_in(self, module: Any) -> Iterable[Target]:
        """Targets to wrap once *module* is imported; default: the table's rows for it.

        An instrumentor whose targets are found by scanning (every estimator class of a
        module) overrides this and `_hooked_modules`; uninstrument still walks what was
        wrapped, so the two cannot drift.
        """
        return (target for target in self._targets() if target.module == module.__name__)

    # --- machinery -----------------------------------------------------------------------
    def _module_imported(self, module: Any) -> None:
        with self._lock:
            if not self._instrumented or module.__name__ not in self._pending:
                return
            self._pending.discard(module.__name__)
            safely(f"{self.name}: wrapping {module.__name__}", self._wrap_module, module)

    def _wrap_module(self, module: Any) -> None:
        for target in self._targets_in(module):
            owner = resolve(module, target.owner)
            if self._wrap(owner, target.attribute, target.wrapper):
                self._wrapped.append((owner, target.attribute))

    @staticmethod
    def _wrap(owner: Any, attribute: str, wrapper: Wrapper) -> bool:
        namespace = owner.__dict__ if isinstance(owner, type) else vars(owner)
        if attribute not in namespace or isinstance(namespace[attribute], _PROXY):
            return False  # inherited (wrapped where it is defined) or already ours
        setattr(owner, attribute, PicklableWrapper(namespace[attribute], wrapper, owner, attribute))
        return True


# --- wrappers that pickle and copy as what they wrap ------------------------------------------
class _BoundPicklableWrapper(wrapt.BoundFunctionWrapper):  # type: ignore[type-arg]  # generic only in stubs
    """A wrapped method as bound by attribute access (``est.fit``, ``Estimator.fit``).

    It pickles as that attribute access again (``getattr(est, "fit")``), as a bound method
    does, and copies like a function (a deep copy of ``est.fit`` is the copy's ``fit``).
    """

    def __reduce_ex__(self, protocol: Any) -> Any:
        owner = self._self_instance if self._self_instance is not None else self._self_owner
        return getattr, (owner, self.__wrapped__.__name__)

    def __reduce__(self) -> Any:
        return self.__reduce_ex__(2)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        if self._self_instance is None:
            return self
        return getattr(copy.deepcopy(self._self_instance, memo), self.__wrapped__.__name__)


class PicklableWrapper(wrapt.FunctionWrapper):  # type: ignore[type-arg]  # generic only in stubs
    """A wrapt function wrapper that pickles by reference, as the function it replaces does.

    wrapt's proxies refuse to pickle (``object proxy must define __reduce__()``), which broke
    ``joblib.dump`` of a scorer, loky workers and ``copy.deepcopy``. Installed as
    ``owner.attribute``, this one pickles as a reference to that attribute: in a module it
    names itself ``owner.attribute`` (its ``__module__`` is the module it is installed in,
    so pickle's and cloudpickle's "is it the same object" checks hold), in a class it pickles
    as ``getattr(owner, attribute)``. Unpickled where runlog is not instrumenting, the
    reference is the original. Copies (shallow or deep) are the wrapper itself, as for a
    function; ``==`` and ``hash`` are the original's (wrapt forwards them).
    """

    __bound_function_wrapper__ = _BoundPicklableWrapper

    def __init__(self, wrapped: Any, wrapper: Wrapper, owner: Any, attribute: str) -> None:
        super().__init__(wrapped, wrapper)
        self._self_home = owner
        self._self_attribute = attribute

    def __getattribute__(self, name: str) -> Any:
        # wrapt's C proxy answers __module__ before any descriptor of a subclass; pickle
        # looks the reference up in __module__, so a module's wrapper names that module.
        # (Calls do not come through here: only attribute reads of the wrapper do.)
        if name == "__module__":
            home = super().__getattribute__("_self_home")
            if isinstance(home, types.ModuleType):
                return home.__name__
        return super().__getattribute__(name)

    def __reduce_ex__(self, protocol: Any) -> Any:
        home, attribute = self._self_home, self._self_attribute
        if not isinstance(home, types.ModuleType):
            return getattr, (home, attribute)
        if getattr(home, attribute, None) is self:
            return attribute  # a global: pickle writes "module attribute"
        # Uninstrumented since (a proxy the user kept): the reference is what is there now.
        return pkgutil.resolve_name, (f"{home.__name__}:{attribute}",)

    def __reduce__(self) -> Any:
        return self.__reduce_ex__(2)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self
