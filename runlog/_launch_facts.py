"""Facts about a launched run: its command line, working directory, git state, and the
interpreter and packages of the launched process (`runlog._launch`, `runlog._launch_child`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from runlog import conventions as c

#: Distributions whose installed versions are recorded (``runlog.package.<name>``).
PACKAGES_OF_NOTE = (
    "runlog",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "torch",
    "torchvision",
    "lightning",
    "pytorch-lightning",
    "tensorboard",
    "transformers",
    "xgboost",
    "lightgbm",
    "jax",
    "tensorflow",
)


def launch_properties(command: Sequence[str], cwd: str | None = None) -> dict[str, str]:
    """The command line, working directory and git state (commit, branch, dirty)."""
    import shlex

    cwd = cwd or os.getcwd()
    return {
        c.PROPERTY_COMMAND: shlex.join(command),
        c.PROPERTY_CWD: cwd,
        **git_properties(cwd),
    }


def git_properties(cwd: str) -> dict[str, str]:
    """Commit, branch and dirty state of the git work tree at *cwd* ({} outside one)."""
    commit = _git(cwd, "rev-parse", "HEAD")
    if commit is None:
        return {}
    facts = {c.PROPERTY_GIT_COMMIT: commit}
    branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":  # "HEAD": a detached head has no branch
        facts[c.PROPERTY_GIT_BRANCH] = branch
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    if status is not None:
        facts[c.PROPERTY_GIT_DIRTY] = "true" if status else "false"
    return facts


def _git(cwd: str, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git here: nothing to record
    return done.stdout.strip() if done.returncode == 0 else None


def interpreter_properties() -> dict[str, str]:
    """This interpreter's version and executable, and the versions of packages of note."""
    from importlib import metadata

    facts = {
        c.PROPERTY_PYTHON_VERSION: sys.version.split()[0],
        c.PROPERTY_PYTHON_EXECUTABLE: sys.executable,
    }
    for name in PACKAGES_OF_NOTE:
        try:
            facts[c.PROPERTY_PACKAGE_PREFIX + name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return facts
