"""Submitted runs, Azure ML SDK v1 style: `ScriptRunConfig`, `Environment`, `Experiment.submit`.

::

    from runlog import Environment, Experiment, ScriptRunConfig

    env = Environment("user-managed-env")
    env.python.user_managed_dependencies = True        # this collector's Python, or
    # env.python.interpreter_path = "/path/to/python"
    src = ScriptRunConfig(source_directory="./", script="train.py",
                          arguments=["--alpha", 0.5], compute_target="local")
    src.run_config.environment = env
    run = Experiment("train-on-local").submit(src)       # returns at once: Queued
    run.wait_for_completion(show_output=True)            # streams the output; raises on failure

`Experiment.submit` packs the source directory into a snapshot (`runlog.snapshot`: it
honours ``.gitignore`` and ``.runlogignore``, at most 2,000 files and 300 MB), uploads it
unless the collector already has that content, and queues the script on the compute
target. The collector runs it (see docs/api.md, "Submitted runs").
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlog import conventions as c
from runlog.exceptions import InvalidArgumentError, NotFoundError, RunFailedError

if TYPE_CHECKING:
    from runlog.client import Client

#: Seconds between two looks at a run that `Run.wait_for_completion` waits for.
POLL_INTERVAL = 0.2
DEFAULT_TARGET = "local"


class CondaDependencies:
    """The packages of a managed `Environment` (Azure ML v1's class; pip packages only)."""

    def __init__(self) -> None:
        self._pip: list[str] = []

    @classmethod
    def create(
        cls,
        pip_packages: Iterable[str] | None = None,
        conda_packages: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> CondaDependencies:
        """Dependencies of *pip_packages* (runlog builds pip environments, not conda ones).

        Raises:
            InvalidArgumentError: *conda_packages* were given.
        """
        if conda_packages:
            raise InvalidArgumentError(
                f"conda packages {list(conda_packages)} cannot be installed: runlog builds "
                "virtual environments with pip; give them as pip_packages"
            )
        made = cls()
        for package in pip_packages or ():
            made.add_pip_package(package)
        return made

    def add_pip_package(self, pip_package: str) -> None:
        """Add one pip requirement (``"scikit-learn>=1.4"``, ``"--find-links ./wheels"``)."""
        if not isinstance(pip_package, str) or not pip_package.strip() or "\n" in pip_package:
            raise InvalidArgumentError(f"pip package {pip_package!r} must be one line of text")
        self._pip.append(pip_package.strip())

    @property
    def pip_packages(self) -> list[str]:
        """The pip requirements, in order."""
        return list(self._pip)


class PythonSection:
    """``Environment.python``: who manages the packages and which interpreter runs."""

    def __init__(self) -> None:
        #: True: the interpreter already has what the script needs (nothing is installed).
        self.user_managed_dependencies = False
        #: The interpreter of a user-managed environment (default: the collector's Python).
        self.interpreter_path: str | None = None
        #: The packages of a managed environment.
        self.conda_dependencies: CondaDependencies | None = None


class Environment:
    """Where a submitted script runs: a user-managed interpreter, or a managed virtual
    environment that the collector builds from pip requirements once and reuses.

    Args:
        name: The environment's name (shown in the run's details and log).
    """

    def __init__(self, name: str) -> None:
        problem = c.check_name("environment name", name)
        if problem:
            raise InvalidArgumentError(problem)
        self.name = name
        self.python = PythonSection()

    @classmethod
    def from_pip_requirements(cls, name: str, file_path: str | os.PathLike[str]) -> Environment:
        """A managed environment of the requirements file *file_path* (pip's format).

        Raises:
            InvalidArgumentError: The file cannot be read.
        """
        try:
            text = Path(file_path).read_text()
        except OSError as exc:
            raise InvalidArgumentError(
                f"cannot read requirements file {file_path!s}: {exc}"
            ) from exc
        env = cls(name)
        env.python.conda_dependencies = CondaDependencies.create(_requirement_lines(text))
        return env

    def to_json(self, autolog: bool = False) -> dict[str, Any]:
        """What the collector is sent (see docs/api.md)."""
        python = self.python
        pip = python.conda_dependencies.pip_packages if python.conda_dependencies else []
        user_managed = bool(python.user_managed_dependencies or python.interpreter_path)
        if user_managed and pip:
            raise InvalidArgumentError(
                f"environment {self.name!r} is user-managed but lists pip packages; set "
                "python.user_managed_dependencies = False to have them installed"
            )
        return {
            "name": self.name,
            "user_managed": user_managed,
            "interpreter_path": python.interpreter_path,
            "pip": pip,
            "autolog": autolog,
        }

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r})"


def _requirement_lines(text: str) -> list[str]:
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


class RunConfiguration:
    """``ScriptRunConfig.run_config``: the environment and the compute target."""

    def __init__(self) -> None:
        self.environment: Environment | None = None
        self.target: str = DEFAULT_TARGET
        #: Auto-instrument the script (scikit-learn, PyTorch, logging) as `runlog run` does.
        self.autolog = False


class ScriptRunConfig:
    """A script of a source folder, to be submitted with `Experiment.submit`.

    Args:
        source_directory: The folder snapshotted and run in (its copy is the working dir).
        script: The script, relative to *source_directory*.
        arguments: Command-line arguments (numbers are turned into text).
        compute_target: ``"local"`` (the collector's host) or ``"ray"``; default local.
        environment: The `Environment`; default: user-managed, the collector's Python.
        run_config: A `RunConfiguration` to start from.
        autolog: Auto-instrument the script (default off: submitted scripts log explicitly).
    """

    def __init__(
        self,
        source_directory: str | os.PathLike[str] = ".",
        script: str | None = None,
        arguments: Sequence[Any] | None = None,
        compute_target: Any = None,
        environment: Environment | None = None,
        run_config: RunConfiguration | None = None,
        autolog: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if not script:
            raise InvalidArgumentError("ScriptRunConfig needs script=, e.g. script='train.py'")
        self.source_directory = str(source_directory)
        self.script = script
        self.arguments = [_argument(a) for a in arguments or ()]
        self.run_config = run_config or RunConfiguration()
        if environment is not None:
            self.run_config.environment = environment
        if compute_target is not None:
            self.run_config.target = str(getattr(compute_target, "name", compute_target))
        if autolog is not None:
            self.run_config.autolog = autolog

    def __repr__(self) -> str:
        return (
            f"ScriptRunConfig(source_directory={self.source_directory!r}, "
            f"script={self.script!r}, target={self.run_config.target!r})"
        )


def _argument(value: Any) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, bool):
        return str(value)
    raise InvalidArgumentError(
        f"argument {value!r} must be a string or a number, not {type(value).__name__}"
    )


def submit(
    client: Client,
    experiment: str,
    config: ScriptRunConfig,
    tags: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Snapshot, upload and queue *config* as a new run of *experiment*; return the queued
    run's record (`Experiment.submit` makes the `Run` of it).

    Raises:
        InvalidArgumentError: The script is missing, the source directory over a limit, the
            target unknown, or the collector refused the submission.
    """
    from runlog import snapshot  # zipfile and pathspec: only when submitting

    if not isinstance(config, ScriptRunConfig):
        raise InvalidArgumentError(f"submit() takes a ScriptRunConfig, got {type(config).__name__}")
    environment = config.run_config.environment
    body: dict[str, Any] = {
        "experiment": experiment,
        "script": snapshot.check_script(config.script),
        "target": config.run_config.target,
        "arguments": config.arguments,
        "environment": (
            environment.to_json(config.run_config.autolog)
            if environment is not None
            else {
                "name": "user-managed",
                "user_managed": True,
                "autolog": config.run_config.autolog,
            }
        ),
        "tags": {str(k): str(v) for k, v in (tags or {}).items()},
    }
    if run_id:
        body["run_id"] = run_id
    if name:
        body["name"] = name
    with tempfile.TemporaryDirectory(prefix="runlog-snapshot-") as folder:
        packed = snapshot.pack(config.source_directory, config.script, Path(folder) / "s.zip")
        client.upload_snapshot(packed.path, packed.digest)
    body["snapshot"] = packed.digest
    return client.submit_run(body)


# --- waiting and looking --------------------------------------------------------------------


def follow(client: Client, run_id: str, show_output: bool, poll: float = POLL_INTERVAL) -> None:
    """Wait until run *run_id* ends (`Run.wait_for_completion`); with *show_output*, print
    its output as it arrives: what the script wrote to stdout on ``sys.stdout``, its stderr
    lines on ``sys.stderr``."""
    after = 0
    while True:
        status = client.get_run(run_id)["status"]
        lines = client.get_logs(run_id, after, 1000)
        for line in lines:
            after = int(line["seq"])
            if show_output and line.get("stream") in ("stdout", "stderr"):
                out = sys.stdout if line["stream"] == "stdout" else sys.stderr
                print(line["message"], file=out, flush=True)
        if len(lines) == 1000:
            continue
        if status in c.TERMINAL_STATUSES:
            return
        time.sleep(poll)


def ended(details: dict[str, Any], show_output: bool, raise_on_error: bool) -> dict[str, Any]:
    """*details* of a run that ended: its status printed (*show_output*), and a failure
    raised (*raise_on_error*).

    Raises:
        RunFailedError: The run ended Failed and *raise_on_error* is true.
    """
    run_id = details["runId"]
    if show_output:
        print(f"run {run_id}: {details['status']}", file=sys.stderr, flush=True)
    if details["status"] == c.STATUS_FAILED and raise_on_error:
        raise RunFailedError(
            f"run {run_id} failed: {details.get('error') or 'no reason given'}", details
        )
    return details


def submission_details(client: Client, run_id: str) -> dict[str, Any]:
    """The submitted run's target, script, arguments, environment and snapshot ({} if the
    run was not submitted)."""
    try:
        found = client.get_submission(run_id)
    except NotFoundError:
        return {}
    return {
        "target": found["target"],
        "snapshotId": found["snapshot"],
        "runDefinition": {
            "script": found["script"],
            "arguments": found["arguments"],
            "target": found["target"],
            "environment": found["environment"],
        },
    }


def log_files(lines: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """A run's log lines as Azure ML's ``logFiles``: text by origin (``std_log.txt`` holds
    what the script printed, ``<logger>.log`` what each logger recorded)."""
    files: dict[str, list[str]] = {}
    for line in lines:
        stream = line.get("stream")
        name = "std_log.txt" if stream else f"{line.get('logger') or 'run'}.log"
        files.setdefault(name, []).append(line["message"])
    return {name: "\n".join(texts) + "\n" for name, texts in files.items()}
