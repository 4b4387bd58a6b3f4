"""`autolog`: switch runlog's auto-instrumentation on (or off) in one call.

Each library has one instrumentor (`SklearnInstrumentor`, `TorchInstrumentor`) whose
targets are wrapped when the library is imported (post-import hooks), so ``autolog()``
imports neither scikit-learn nor torch itself and may run before or after they are
imported. ``runlog run`` switches it on in the launched interpreter through
``RUNLOG_AUTOLOG`` (`autolog_from_env`, called by the bootstrap ``sitecustomize``).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable
from typing import Any

from runlog import conventions as c
from runlog.instrumentation._base import Instrumentor, report_once, strict

_log = logging.getLogger("runlog.internal")

#: Library name → (module, class) of its instrumentor, imported only when chosen.
INSTRUMENTORS: dict[str, tuple[str, str]] = {
    "sklearn": ("runlog.instrumentation.sklearn", "SklearnInstrumentor"),
    "torch": ("runlog.instrumentation.torch", "TorchInstrumentor"),
}
_OFF = frozenset({"", "0", "false", "off", "no", "none"})
_ALL = frozenset({"1", "true", "on", "yes", "all"})
#: The handler `autolog` hands log records to (`runlog._logcapture`), while it is on.
_logging_tap: Any = None


def autolog(
    sklearn: bool = True,
    torch: bool = True,
    logging: bool = True,
    log_models: bool = True,
    max_tuning_runs: int | None = 5,
    disable: bool = False,
) -> None:
    """Record training code you did not change: scikit-learn fits, PyTorch training loops,
    log lines. Never imports scikit-learn or torch itself (their code is wrapped when the
    script imports them).

    Calling it again with the same options does nothing; with other options the chosen
    instrumentors are set up again with the new ones. It never raises into your code:
    runlog's own errors are logged on ``runlog.internal`` (they raise only in strict mode,
    ``RUNLOG_INSTRUMENTATION_STRICT=1``).

    Args:
        sklearn: Record scikit-learn estimators' fits (params, training metrics, model).
        torch: Record PyTorch training loops, TensorBoard writers and Lightning trainers.
        logging: Send the standard library's log records to the run, without adding a
            handler to the root logger or changing any level: what the script's logging
            configuration lets through is recorded, and its output stays as it was.
        log_models: Save fitted/trained models as run files.
        max_tuning_runs: Child runs kept per hyperparameter search (the best by rank);
            ``None`` keeps all.
        disable: Switch the chosen instrumentations off instead.

    See docs/autolog.md, and ``runlog run -- python train.py`` for no code change at all.
    """
    chosen = {"sklearn": sklearn, "torch": torch}
    options: dict[str, dict[str, Any]] = {
        "sklearn": {"log_models": log_models, "max_tuning_runs": max_tuning_runs},
        "torch": {"log_models": log_models},
    }
    for library, wanted in chosen.items():
        if wanted:
            _guarded(f"autolog({library})", _switch, library, options[library], disable)
    if logging:
        _guarded("autolog(logging)", _switch_logging, disable)


def autolog_from_env(value: str | None = None) -> None:
    """Switch on what ``RUNLOG_AUTOLOG`` names (``sklearn,torch,logging``, ``1`` or ``0``).

    Unknown names are reported and ignored. Nothing happens when the variable is unset.
    A library the script has not imported yet is instrumented when it is imported: its
    instrumentor (and what that imports, numpy for scikit-learn) is not loaded before, so
    a script that never imports it starts as fast as without runlog.
    """
    text = os.environ.get(c.ENV_AUTOLOG) if value is None else value
    names = parse_autolog(text or "")
    if not names:
        return
    import sys

    later = {name for name in names if LIBRARIES.get(name, name) not in sys.modules} - {"logging"}
    autolog(**{name: name in names - later for name in c.AUTOLOG_NAMES})
    if later:
        import wrapt

        for name in later:
            wrapt.register_post_import_hook(_imported_hook(name), LIBRARIES[name])


#: Autolog name → the package whose import switches its instrumentation on.
LIBRARIES = {"sklearn": "sklearn", "torch": "torch"}


def _imported_hook(library: str) -> Any:
    def on_import(module: Any) -> None:
        autolog(**{name: name == library for name in c.AUTOLOG_NAMES})

    return on_import


def parse_autolog(text: str) -> frozenset[str]:
    """The library names a ``RUNLOG_AUTOLOG`` value chooses (unknown ones are reported)."""
    lowered = text.strip().lower()
    if lowered in _OFF:
        return frozenset()
    if lowered in _ALL:
        return frozenset(c.AUTOLOG_NAMES)
    names = {part.strip() for part in lowered.split(",") if part.strip()}
    unknown = names - set(c.AUTOLOG_NAMES)
    if unknown:
        _log.warning(
            "runlog: %s names unknown libraries %s; expected some of %s",
            c.ENV_AUTOLOG,
            ", ".join(sorted(unknown)),
            ",".join(c.AUTOLOG_NAMES),
        )
    return frozenset(names - unknown)


def instrumentor(library: str) -> Instrumentor | None:
    """The instrumentor of *library* (``sklearn``, ``torch``), or None where it is missing."""
    module_name, class_name = INSTRUMENTORS[library]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module exists but something it imports does not: a real error
        _log.debug("runlog: no %s instrumentation in this build (%s)", library, exc)
        return None
    instance: Instrumentor = getattr(module, class_name)()
    return instance


def instrumented() -> list[str]:
    """Names of the libraries whose instrumentation is on (for diagnostics and tests)."""
    return [name for name in INSTRUMENTORS if _is_on(name)]


def _is_on(library: str) -> bool:
    module_name, class_name = INSTRUMENTORS[library]
    import sys

    module = sys.modules.get(module_name)
    return module is not None and getattr(module, class_name)().is_instrumented


def _switch(library: str, options: dict[str, Any], disable: bool) -> None:
    target = instrumentor(library)
    if target is None:
        return
    if disable:
        if target.is_instrumented:
            target.uninstrument()
        return
    if target.is_instrumented:
        if target.options == options:
            return  # idempotent: the same call again changes nothing
        target.uninstrument()
    target.instrument(**options)


def _switch_logging(disable: bool) -> None:
    global _logging_tap
    from runlog import _logcapture
    from runlog.handler import RunlogHandler

    if _logging_tap is not None:
        _logcapture.remove_tap(_logging_tap)
        _logging_tap = None
    if not disable:
        _logging_tap = RunlogHandler(parse_messages=parse_metrics_on())
        _logcapture.add_tap(_logging_tap)


def parse_metrics_on(value: str | None = None) -> bool:
    """Whether ``RUNLOG_PARSE_METRICS`` asks for print-style metrics (default: no)."""
    text = os.environ.get(c.ENV_PARSE_METRICS, "") if value is None else value
    return text.strip().lower() in _ALL


def _guarded(site: str, function: Any, *args: Any) -> None:
    """Run one step of `autolog`; runlog's error is logged (raised in strict mode)."""
    try:
        function(*args)
    except Exception as exc:
        if strict():
            raise
        report_once(site, exc, "runlog: %s failed; your code goes on without it")


def names(values: Iterable[str]) -> str:
    """The ``RUNLOG_AUTOLOG`` value choosing *values* (``"0"`` for none)."""
    chosen = [name for name in c.AUTOLOG_NAMES if name in set(values)]
    return ",".join(chosen) or "0"
