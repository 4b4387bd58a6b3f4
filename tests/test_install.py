"""Every install the README shows works in a clean environment (issue 17).

The wheel is built once; the light client and ``[collector]`` are each installed into a fresh
virtual environment holding only what they declare (dependencies come from the package
index pip is configured with). A collector started from the ``[collector]`` install takes a
run logged by the light client, which reads it back with ``runlog``. Each environment then
imports every module of the package: a module may fail only for a library that an extra
declares (`runlog.extras.PROVIDERS`), so an undeclared import fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import tomllib
from collector_process import free_port
from packaging.requirements import Requirement

from runlog.extras import DISTRIBUTION

pytestmark = [pytest.mark.install, pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
# pip talks to the index; keep it out of the user's config for the package itself.
_PIP = [sys.executable, "-m", "pip"]
_PIP_ENV = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONPATH": ""}


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLOG_", "OTEL_"))}
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [*_PIP, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        env=_PIP_ENV,
        timeout=300,
    )
    (found,) = out.glob("runlog_ml-*.whl")
    return found


def _venv(where: Path, requirement: str) -> Path:
    """A fresh virtual environment (no pip of its own) with *requirement* installed by this
    interpreter's pip; returns its python."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120
    )
    python = where / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", requirement],
        check=True,
        capture_output=True,
        env=_PIP_ENV,
        timeout=480,
    )
    return python


@pytest.fixture(scope="module")
def light(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _venv(tmp_path_factory.mktemp("light") / "venv", str(wheel))


@pytest.fixture(scope="module")
def server(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _venv(
        tmp_path_factory.mktemp("server") / "venv", f"{DISTRIBUTION}[collector] @ {wheel.as_uri()}"
    )


def _run(
    python: Path, code: str, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env={**_clean_env(), "RUNLOG_SPOOL_DIR": str(python.parents[2] / "spool"), **(env or {})},
        cwd=python.parents[2],  # not the checkout: import the installed package
        timeout=timeout,
    )


def test_wheel_metadata_names_the_distribution_and_the_command(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(meta).decode()
        scripts = archive.read(meta.replace("METADATA", "entry_points.txt")).decode()
    assert f"Name: {DISTRIBUTION}" in text.splitlines()
    assert "License-Expression: Apache-2.0" in text.splitlines()
    assert 'Requires-Dist: googleapis-common-protos>=1.63; extra == "collector"' in text
    assert "runlog = runlog.cli:main" in scripts


_IMPORT_ALL = """
    import importlib, json, pkgutil, sys
    from runlog.extras import provider
    failed = {}
    for package in sys.argv[1:]:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            if ".migrations." in info.name:
                continue
            try:
                importlib.import_module(info.name)
            except ImportError as exc:
                failed[info.name] = [exc.name, provider(exc.name)]
    print(json.dumps(failed))
"""


def _import_failures(python: Path, *packages: str) -> dict[str, list[object]]:
    result = _run(python, _IMPORT_ALL, *packages)
    assert 0 == result.returncode, result.stderr
    return dict(json.loads(result.stdout.splitlines()[-1]))


# The client's modules that need an extra, and which one (README, "Install").
_OWNERS = {
    "runlog.instrumentation._sklearn": "sklearn",
    "runlog.instrumentation.sklearn": "sklearn",
    "runlog.instrumentation._torch": "torch",
    "runlog.instrumentation.torch": "torch",
    "runlog.instrumentation.lightning": "lightning",
    "runlog.instrumentation._tensorboard": "tensorboard",
    "runlog.otel": "otel",
    "runlog.widgets": "widgets",
}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _declares(extra: str, distribution: str) -> bool:
    lines = PYPROJECT["optional-dependencies"][extra]
    return any(Requirement(line).name.lower() == distribution.lower() for line in lines)


def test_light_client_modules_import_or_need_their_declared_extra(light: Path) -> None:
    """A module of the client imports with the light install alone, or it belongs to an
    extra that declares the distribution it missed."""
    failures = _import_failures(light, "runlog")
    wrong = {}
    for module, (missing, found) in failures.items():
        owner = next((e for prefix, e in _OWNERS.items() if module.startswith(prefix)), None)
        dist = Requirement(found[0]).name if isinstance(found, list) else None
        if owner is None or dist is None or not _declares(owner, dist):
            wrong[module] = (missing, owner)
    assert {} == wrong


def test_collector_install_imports_every_collector_module(server: Path) -> None:
    failures = _import_failures(server, "collectors")
    # Ray's job client is its own extra ([ray]), imported only when the ray target is used.
    assert {} == failures


def test_light_client_is_light(light: Path) -> None:
    """`import runlog` and a logged run load no server library and no numpy."""
    result = _run(
        light,
        """
        import sys, runlog
        run = runlog.Experiment(runlog.Workspace("http://127.0.0.1:9"), "x")
        heavy = {"numpy", "fastapi", "grpc", "sqlalchemy", "uvicorn", "pandas"}
        print(sorted(heavy & {m.split(".")[0] for m in sys.modules}))
        """,
    )
    assert 0 == result.returncode, result.stderr
    assert "[]" == result.stdout.strip()


def test_collector_from_light_install_names_what_is_missing(light: Path) -> None:
    runlog_cmd = light.parent / "runlog"
    result = subprocess.run(
        [str(runlog_cmd), "collector", "--data-dir", str(light.parents[1] / "d"), "--no-grpc"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=60,
    )
    assert 1 == result.returncode
    assert "pip install 'grpcio' - it is part of runlog-ml's [collector] extra" in result.stderr


@pytest.fixture(scope="module")
def collector_endpoint(server: Path) -> Iterator[str]:
    port = free_port()
    data = server.parents[1] / "data"
    log = server.parents[1] / "collector.log"
    command = [str(server.parent / "runlog"), "collector", "--data-dir", str(data)]
    command += ["--port", str(port), "--no-grpc", "--no-replay"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=_clean_env())
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(endpoint + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(30)


def test_light_client_logs_a_run_into_the_collector_install(
    light: Path, collector_endpoint: str
) -> None:
    result = _run(
        light,
        """
        import sys, runlog
        ws = runlog.Workspace(sys.argv[1])
        run = runlog.Experiment(ws, "installed").start_logging(display_name="clean-venv")
        for step in range(5):
            run.log("loss", 1.0 / (step + 1))
        run.log("alpha", 0.5)
        run.complete()
        print(run.id)
        """,
        collector_endpoint,
    )
    assert 0 == result.returncode, result.stderr
    run_id = result.stdout.strip().splitlines()[-1]

    runlog_cmd = str(light.parent / "runlog")
    listed = subprocess.run(
        [runlog_cmd, "--endpoint", collector_endpoint, "runs", "-e", "installed", "--json"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=60,
    )
    assert 0 == listed.returncode, listed.stderr
    (found,) = json.loads(listed.stdout)
    assert (run_id, "Completed", "clean-venv") == (
        found["run_id"],
        found["status"],
        found["name"],
    )
    points = subprocess.run(
        [runlog_cmd, "--endpoint", collector_endpoint, "metrics", run_id, "loss", "--json"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=60,
    )
    assert 0 == points.returncode, points.stderr
    (series,) = json.loads(points.stdout)
    assert [1.0, 0.5, 1 / 3, 0.25, 0.2] == series["values"]


@pytest.fixture(scope="module")
def with_sklearn(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("sklearn") / "venv"
    return _venv(where, f"{DISTRIBUTION}[sklearn] @ {wheel.as_uri()}")


def test_sklearn_extra_records_a_fit(with_sklearn: Path, collector_endpoint: str) -> None:
    """``[sklearn]`` alone is enough for `runlog.autolog()` to record a fit (README)."""
    result = _run(
        with_sklearn,
        """
        import sys, runlog
        runlog.autolog()
        from sklearn.linear_model import Ridge
        with runlog.start_run(experiment="sklearn-extra") as run:
            Ridge(alpha=0.5).fit([[0.0], [1.0], [2.0], [3.0]], [0.0, 1.1, 1.9, 3.2])
        print(run.id)
        """,
        env={"RUNLOG_ENDPOINT": collector_endpoint},
    )
    assert 0 == result.returncode, result.stderr
    run_id = result.stdout.strip().splitlines()[-1]
    runlog_cmd = [str(with_sklearn.parent / "runlog"), "--endpoint", collector_endpoint]
    shown = subprocess.run(
        [*runlog_cmd, "show", run_id, "--json"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=60,
    )
    assert 0 == shown.returncode, shown.stderr
    run = json.loads(shown.stdout)
    # one model in the run: its params and metrics go straight onto the run (no prefix)
    assert {"alpha": "0.5"}.items() <= run["params"].items()
    assert "training_r2_score" in {m["name"] for m in run["metrics"]}
