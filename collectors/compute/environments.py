"""Environments of submitted runs: which Python runs the script, and its packages.

*User-managed*: the script runs in an interpreter that already has what it needs (the
collector's own, or ``interpreter_path``). *Managed*: a list of pip requirements; the
collector builds a virtual environment for it once per content hash under
``<data dir>/envs/<hash>`` and reuses it for every run that asks for the same list. The
build's output goes into the run's log; a failed build fails the run with pip's error.

Scripts import runlog in either case: ``RUNLOG_CLIENT_PATH`` names a folder of links to
runlog and its dependencies, which the launched interpreter's bootstrap appends to
``sys.path`` when runlog is not installed there, behind the environment's own packages.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from runlog import conventions as c

ENV_CLIENT_PATH: Final = c.ENV_CLIENT_PATH
_MARKER: Final = "runlog-environment.json"
#: The distribution runlog is installed as (the import name is ``runlog``).
_TAIL_LINES: Final = 25
_MAX_REQUIREMENTS: Final = 500

#: Where a build's output lines go: (message, stream) with stream "stdout" or "stderr".
BuildLog = Callable[[str], None]


class EnvironmentBuildError(RuntimeError):  # "EnvironmentError" is a builtin alias
    """An environment cannot be used: a missing interpreter or a failed build."""


@dataclass(frozen=True, slots=True)
class EnvironmentSpec:
    """What a submitted run asked for (the JSON its client sent)."""

    name: str = "user-managed"
    managed: bool = False
    interpreter: str | None = None
    pip: tuple[str, ...] = ()
    autolog: bool = False

    @classmethod
    def from_json(cls, data: Any) -> EnvironmentSpec:
        """Read the client's JSON object; raise ValueError saying what is wrong."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError("environment must be a JSON object")
        name = data.get("name", "user-managed")
        pip = data.get("pip", [])
        interpreter = data.get("interpreter_path")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise ValueError("environment name must be a non-empty string of at most 255")
        if not isinstance(pip, list) or not all(isinstance(p, str) for p in pip):
            raise ValueError("environment pip must be a list of requirement strings")
        if len(pip) > _MAX_REQUIREMENTS or any("\n" in p or "\0" in p for p in pip):
            raise ValueError(f"environment pip: at most {_MAX_REQUIREMENTS} one-line requirements")
        if interpreter is not None and (not isinstance(interpreter, str) or not interpreter):
            raise ValueError("environment interpreter_path must be a non-empty string")
        managed = not bool(data.get("user_managed", not pip))
        if interpreter is not None and managed:
            raise ValueError("interpreter_path needs user_managed_dependencies = True")
        return cls(name, managed, interpreter, tuple(pip), bool(data.get("autolog", False)))

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored with the run (what `from_json` reads)."""
        return {
            "name": self.name,
            "user_managed": not self.managed,
            "interpreter_path": self.interpreter,
            "pip": list(self.pip),
            "autolog": self.autolog,
        }

    def content_hash(self, python: str) -> str:
        """The cache key of a managed environment: its requirements and the base Python."""
        key = json.dumps({"python": python, "pip": list(self.pip)}, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:24]


@dataclass(slots=True)
class Resolved:
    """The interpreter a run's script starts with and the variables that go with it."""

    interpreter: str
    variables: dict[str, str] = field(default_factory=dict)
    reused: bool = False
    location: str | None = None


class EnvironmentCache:
    """Managed environments under *root*, built once per content hash.

    Args:
        root: ``<data dir>/envs``.
        python: the base interpreter of managed environments (the collector's).
    """

    def __init__(self, root: Path, python: str = sys.executable) -> None:
        self.root = root
        self.python = python
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._client: Path | None = None

    def client_path(self) -> Path:
        """The folder of links to runlog and its dependencies (made once per process)."""
        if self._client is None:
            self._client = client_overlay(self.root)
        return self._client

    def resolve(self, spec: EnvironmentSpec, cwd: Path, log: BuildLog) -> Resolved:
        """The interpreter for *spec*: found, taken from the cache, or built now.

        Raises:
            EnvironmentBuildError: the interpreter does not exist, or pip failed.
        """
        if not spec.managed:
            interpreter = spec.interpreter or self.python
            found = shutil.which(interpreter)
            if found is None:
                raise EnvironmentBuildError(
                    f"environment {spec.name!r}: interpreter {interpreter!r} does not exist "
                    "or is not executable on the collector's host"
                )
            return Resolved(found)
        digest = spec.content_hash(_python_version(self.python))
        with self._lock(digest):
            target = self.root / digest
            reused = (target / _MARKER).is_file()
            if not reused:
                self._build(spec, target, cwd, log)
        variables = {"VIRTUAL_ENV": str(target)}
        variables["PATH"] = os.pathsep.join([str(target / "bin"), os.environ.get("PATH", "")])
        return Resolved(str(target / "bin" / "python"), variables, reused, str(target))

    def _lock(self, digest: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(digest, threading.Lock())

    def _build(self, spec: EnvironmentSpec, target: Path, cwd: Path, log: BuildLog) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        building = self.root / f".{target.name}.building-{uuid.uuid4().hex[:8]}"
        try:
            log(f"building environment {spec.name!r} ({target.name}): {len(spec.pip)} requirements")
            _run([self.python, "-m", "venv", "--without-pip", str(building)], cwd, log, "venv")
            requirements = building / "requirements.txt"
            requirements.write_text("".join(f"{line}\n" for line in spec.pip))
            pip = [self.python, "-m", "pip", "--python", str(building / "bin" / "python")]
            pip += ["install", "--disable-pip-version-check", "--no-input", "-r", str(requirements)]
            _run(pip, cwd, log, "pip install")
            (building / _MARKER).write_text(json.dumps(spec.to_json()))
            os.replace(building, target)
        finally:
            shutil.rmtree(building, ignore_errors=True)
        log(f"environment {spec.name!r} built: {target}")


def _run(command: list[str], cwd: Path, log: BuildLog, what: str) -> None:
    """Run one build step, streaming its output into *log*; raise with its last lines."""
    tail: list[str] = []
    with subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None  # PIPE was asked for
        for line in process.stdout:
            text = line.rstrip("\n")
            log(text)
            tail = [*tail[-_TAIL_LINES + 1 :], text]
        code = process.wait()
    if code != 0:
        details = "\n".join(tail).strip()
        raise EnvironmentBuildError(f"{what} failed (exit code {code}):\n{details}")


def _python_version(python: str) -> str:
    return f"{python}:{sys.version.split()[0]}" if python == sys.executable else python


# --- runlog inside any interpreter ------------------------------------------------------------


def client_overlay(root: Path) -> Path:
    """A folder of symbolic links to runlog and the packages it needs (one per set of links)."""
    links = _client_links()
    key = hashlib.sha256(json.dumps(sorted(links.items())).encode()).hexdigest()[:16]
    target = root / f"runlog-client-{key}"
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    building = root / f".runlog-client-{uuid.uuid4().hex[:8]}"
    building.mkdir()
    for name, source in links.items():
        (building / name).symlink_to(source)
    try:
        os.replace(building, target)
    except OSError:  # another process made it first
        shutil.rmtree(building, ignore_errors=True)
    return target


def _client_links() -> dict[str, str]:
    """Top-level importable names (and metadata) of runlog's dependency closure."""
    import runlog
    from runlog.extras import DISTRIBUTION

    links: dict[str, str] = {}
    todo, seen = [DISTRIBUTION], set()
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        todo += [_requirement_name(r) for r in dist.requires or [] if "extra ==" not in r]
        tops = _top_levels(dist)
        if name == DISTRIBUTION:  # an editable install lists the source tree: take only metadata
            tops = {k: v for k, v in tops.items() if k.endswith(".dist-info")}
        links.update(tops)
    links["runlog"] = str(Path(runlog.__file__).resolve().parent)
    return links


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    return match.group(0) if match else requirement


def _top_levels(dist: metadata.Distribution) -> dict[str, str]:
    found: dict[str, str] = {}
    for file in dist.files or []:
        top = file.parts[0] if file.parts else ""
        if not top or top == ".." or top.startswith("__editable__") or top == "__pycache__":
            continue
        if top.endswith((".pth", ".data")) or top in found:
            continue
        located = Path(str(dist.locate_file(top)))
        if located.exists():
            found[top] = str(located)
    return found
