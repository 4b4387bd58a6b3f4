"""``runlog run -- COMMAND``: real launches against the session collector.

Each test launches ``python -m runlog.cli run`` as its own process (as a user would), under a
unique experiment, and asserts on what the collector stored for the one run it made.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from runlog import conventions as c
from runlog._launch import default_name
from runlog._launch_capture import line_level
from runlog.client import Client


def launch(
    collector: Any,
    cwd: Path,
    *args: str,
    script: str | None = None,
    experiment: str | None = None,
    autolog: bool = False,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``runlog run [-e EXPERIMENT] ARGS``; with *script*, ``-- python script.py``.

    Without *autolog*, ``--no-autolog`` keeps these launcher tests independent of the
    sklearn/torch instrumentors (tested in tests/instrumentation/).
    """
    command = [sys.executable, "-m", "runlog.cli", "run"]
    if experiment:
        command += ["-e", experiment]
    if not autolog:
        command.append("--no-autolog")
    command += list(args)
    if script is not None:
        (cwd / "train.py").write_text(textwrap.dedent(script))
        command += ["--", sys.executable, "train.py"]
    env = {
        **os.environ,
        c.ENV_ENDPOINT: collector.endpoint,
        c.ENV_SPOOL_DIR: str(cwd / "spool"),
        **(env or {}),
    }
    for name in (c.ENV_RUN_ID, c.ENV_EXPERIMENT, "OTEL_RESOURCE_ATTRIBUTES", c.ENV_TOKEN):
        env.pop(name, None)
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def run_to_end(collector: Any, cwd: Path, *args: str, **kwargs: Any) -> tuple[int, str, str]:
    """Launch and wait; return (exit code, stdout, stderr), newlines untranslated."""
    process = launch(collector, cwd, *args, **kwargs)
    out, err = process.communicate(timeout=60)
    return process.returncode, out.decode(), err.decode()


def the_run(collector: Any, experiment: str) -> dict[str, Any]:
    """The one run of *experiment*, with its tags, params and properties."""
    with Client(collector.endpoint) as client:
        [found] = client.search_runs(experiment)
        return client.get_run(found["run_id"])


def stored_lines(collector: Any, run_id: str) -> list[dict[str, Any]]:
    with Client(collector.endpoint) as client:
        return list(client.iter_logs(run_id))


@pytest.fixture
def experiment() -> str:
    return f"cli-run-{uuid.uuid4().hex[:8]}"


PRINTS = """
    import sys, time
    print("one")
    time.sleep(0.2)  # across the two pipes, only what arrives apart has an order
    print("two", file=sys.stderr)
    time.sleep(0.2)
    print("three")
    print("progress 10%\\rprogress 100%")
"""


def test_output_is_echoed_unchanged_and_recorded_in_order(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    code, out, err = run_to_end(collector, tmp_path, script=PRINTS, experiment=experiment)
    assert 0 == code, err
    assert "one\nthree\nprogress 10%\rprogress 100%\n" == out
    assert "two\n" == err
    run = the_run(collector, experiment)
    lines = [
        (line["stream"], line["message"], line["level"])
        for line in stored_lines(collector, run["run_id"])
    ]
    captured = [line for line in lines if line[0] is not None]
    assert [
        ("stdout", "one", "INFO"),
        ("stderr", "two", "INFO"),
        ("stdout", "three", "INFO"),
        ("stdout", "progress 100%", "INFO"),
    ] == captured


def test_exit_zero_completes_the_run_and_records_the_launch(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    code, _, err = run_to_end(
        collector,
        tmp_path,
        "--name",
        "baseline",
        "--tag",
        "team=vision",
        "--tag",
        "note=a=b",
        script="print('hi')",
        experiment=experiment,
    )
    assert 0 == code, err
    run = the_run(collector, experiment)
    assert c.STATUS_COMPLETED == run["status"]
    assert "baseline" == run["name"]
    assert {"team": "vision", "note": "a=b"}.items() <= run["tags"].items()
    props = run["properties"]
    assert f"{sys.executable} train.py" == props[c.PROPERTY_COMMAND]
    assert "0" == props[c.PROPERTY_EXIT_CODE]
    assert str(tmp_path) == props[c.PROPERTY_CWD]
    assert sys.version.split()[0] == props[c.PROPERTY_PYTHON_VERSION]
    from importlib.metadata import version

    assert version("numpy") == props[c.PROPERTY_PACKAGE_PREFIX + "numpy"]
    assert c.PROPERTY_GIT_COMMIT not in props  # tmp_path is not in a git work tree


def test_git_commit_and_dirty_state_are_recorded(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    (tmp_path / "train.py").write_text("print('v1')\n")
    subprocess.run(["git", "add", "train.py"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "v1"], cwd=tmp_path, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    code, _, err = run_to_end(
        collector, tmp_path, "--", sys.executable, "train.py", experiment=experiment
    )
    assert 0 == code, err
    props = the_run(collector, experiment)["properties"]
    assert head == props[c.PROPERTY_GIT_COMMIT]
    assert "main" == props[c.PROPERTY_GIT_BRANCH]
    assert "false" == props[c.PROPERTY_GIT_DIRTY]


def test_exception_fails_the_run_with_the_traceback(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    script = """
        def train():
            raise ValueError("loss is NaN at step 7")
        train()
    """
    code, _, err = run_to_end(collector, tmp_path, script=script, experiment=experiment)
    assert 1 == code
    assert "ValueError: loss is NaN at step 7" in err  # still shown on the terminal
    run = the_run(collector, experiment)
    assert c.STATUS_FAILED == run["status"]
    assert run["error"].startswith("the command exited with code 1\nTraceback")
    assert 'in train\n    raise ValueError("loss is NaN at step 7")' in run["error"]
    assert run["error"].endswith("ValueError: loss is NaN at step 7")


@pytest.mark.parametrize("code", [3, 255])
def test_exit_code_passes_through_and_fails_the_run(
    collector: Any, tmp_path: Path, experiment: str, code: int
) -> None:
    script = f"import sys; sys.exit({code})"
    assert code == run_to_end(collector, tmp_path, script=script, experiment=experiment)[0]
    run = the_run(collector, experiment)
    assert c.STATUS_FAILED == run["status"]
    assert f"the command exited with code {code}" == run["error"]
    assert str(code) == run["properties"][c.PROPERTY_EXIT_CODE]


def test_command_not_found_exits_127_and_fails_the_run(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    code, _, err = run_to_end(
        collector, tmp_path, "--", "no-such-program-runlog", experiment=experiment
    )
    assert 127 == code
    assert "runlog run: no-such-program-runlog: command not found" in err
    run = the_run(collector, experiment)
    assert c.STATUS_FAILED == run["status"]
    assert "command not found" in run["error"]


def test_missing_command_is_a_usage_error(collector: Any, tmp_path: Path) -> None:
    code, _, err = run_to_end(collector, tmp_path)
    assert 2 == code
    assert "Missing argument 'COMMAND...'" in err


def test_bad_tag_is_a_usage_error(collector: Any, tmp_path: Path) -> None:
    code, _, err = run_to_end(collector, tmp_path, "--tag", "novalue", "--", "true")
    assert 2 == code
    assert "'novalue' is not KEY=VALUE" in err


def test_an_unknown_option_is_a_usage_error_and_starts_no_run(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    code, _, err = run_to_end(
        collector, tmp_path, "--nmae", "foo", "--", "true", experiment=experiment
    )
    assert 2 == code
    assert "No such option '--nmae'" in err
    with Client(collector.endpoint) as client:
        assert [] == client.search_runs(experiment)


def test_options_after_the_command_are_the_commands(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    """Without ``--`` the first word that is no option starts COMMAND."""
    (tmp_path / "train.py").write_text("import sys; print(sys.argv[1:])\n")
    code, out, err = run_to_end(
        collector, tmp_path, sys.executable, "train.py", "--lr", "3", experiment=experiment
    )
    assert 0 == code, err
    assert "['--lr', '3']\n" == out


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["python", "train.py", "--lr", "3"], "train.py"),
        (["/usr/bin/python3.11", "-u", "src/train.py"], "train.py"),
        (["python3", "-W", "ignore", "-m", "pkg.train"], "pkg.train"),
        (["python", "-c", "print(1)"], "python"),
        (["./train.sh", "x"], "train.sh"),
        (["torchrun", "train.py"], "torchrun"),
    ],
)
def test_default_name_is_the_script_python_runs(command: list[str], expected: str) -> None:
    assert expected == default_name(command)


def test_the_run_of_a_python_script_is_named_after_the_script(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    code, _, err = run_to_end(collector, tmp_path, script="print(1)", experiment=experiment)
    assert 0 == code, err
    assert "train.py" == the_run(collector, experiment)["name"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("plain text", (9, "INFO")),
        ("WARNING:root:careful", (13, "WARNING")),
        ("2024-05-01 12:00:00,123 ERROR broke", (17, "ERROR")),
        ("[INFO] fine", (9, "INFO")),
        ("/x/train.py:3: UserWarning: lr is high", (13, "WARNING")),
        ("Epoch 0:  50%|#####     | 5/10 [00:01<00:01, 4.2it/s]", (9, "INFO")),
        ("ERRORS: none", (9, "INFO")),
    ],
)
def test_line_level_is_the_one_the_line_names(line: str, expected: tuple[int, str]) -> None:
    assert expected == line_level(line)


STDERR_LINES = """
    import logging, sys, warnings
    warnings.warn("lr is high")
    print("  5%|5         | 1/20 [00:00<00:01]", file=sys.stderr)
    logging.error("broke")
"""


def test_stderr_lines_are_neutral_unless_they_name_a_level(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    code, _, err = run_to_end(collector, tmp_path, script=STDERR_LINES, experiment=experiment)
    assert 0 == code, err
    run = the_run(collector, experiment)
    lines = [
        (line["level"], line["message"][-16:])
        for line in stored_lines(collector, run["run_id"])
        if line["stream"] == "stderr"
    ]
    assert [
        ("WARNING", "ning: lr is high"),
        ("INFO", 'rn("lr is high")'),
        ("INFO", "20 [00:00<00:01]"),
        ("ERROR", "ERROR:root:broke"),
    ] == lines


PRINTS_METRICS = """
    for epoch in range(3):
        print(f"epoch {epoch} loss={1.0 / (epoch + 1):.2f} acc: {0.5 + epoch / 10}")
    print("eval_loss: 1.6")
"""


@pytest.mark.parametrize("switch", [[], ["--no-parse-metrics"]])
def test_print_style_metrics_become_points_unless_switched_off(
    collector: Any, tmp_path: Path, experiment: str, switch: list[str]
) -> None:
    code, out, err = run_to_end(
        collector, tmp_path, *switch, script=PRINTS_METRICS, experiment=experiment
    )
    assert 0 == code, err
    assert out.startswith("epoch 0 loss=1.00 acc: 0.5\n")
    run = the_run(collector, experiment)
    with Client(collector.endpoint) as client:
        names = {m["name"] for m in client.list_metrics(run["run_id"])}
        if switch:
            assert set() == names
            return
        assert {"loss", "acc", "eval_loss"} == names
        loss = client.get_metric(run["run_id"], "loss")
    assert [0, 1, 2] == loss.steps
    assert [1.0, 0.5, 0.33] == loss.values


WAITS = """
    import time, runlog
    # Python 3.11 exits 1, not by SIGINT, when a KeyboardInterrupt lands before runlog's
    # first send has happened (the send at exit resets the interpreter's flag).
    runlog.active_run().flush()
    print("ready", flush=True)
    time.sleep(30)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_is_forwarded_and_cancels_the_run(
    collector: Any, tmp_path: Path, experiment: str, signum: int
) -> None:
    process = launch(collector, tmp_path, script=WAITS, experiment=experiment)
    assert process.stdout is not None
    assert b"ready\n" == process.stdout.readline()  # the child is running the script
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    assert 128 + signum == process.returncode, err.decode()
    assert c.STATUS_CANCELED == the_run(collector, experiment)["status"]


def test_outputs_folder_is_uploaded_byte_exactly(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    script = """
        import os
        os.makedirs("outputs/sub", exist_ok=True)
        open("outputs/model.bin", "wb").write(bytes(range(256)) * 10)
        open("outputs/sub/notes.txt", "w").write("épochs: 3\\n")
    """
    code, _, err = run_to_end(collector, tmp_path, script=script, experiment=experiment)
    assert 0 == code, err
    run_id = the_run(collector, experiment)["run_id"]
    with Client(collector.endpoint) as client:
        assert ["outputs/model.bin", "outputs/sub/notes.txt"] == sorted(
            f["path"] for f in client.list_files(run_id)
        )
        client.download_file(run_id, "outputs/model.bin", tmp_path / "got.bin")
    assert bytes(range(256)) * 10 == (tmp_path / "got.bin").read_bytes()


def test_other_outputs_folder(collector: Any, tmp_path: Path, experiment: str) -> None:
    script = "import os; os.makedirs('ckpt'); open('ckpt/last.pt', 'wb').write(b'w')"
    code, _, err = run_to_end(
        collector, tmp_path, "--outputs", "ckpt", script=script, experiment=experiment
    )
    assert 0 == code, err
    with Client(collector.endpoint) as client:
        files = client.list_files(the_run(collector, experiment)["run_id"])
    assert ["ckpt/last.pt"] == [f["path"] for f in files]


def test_script_logging_to_the_active_run_lands_in_the_launched_run(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    script = """
        import runlog
        run = runlog.active_run()
        print(run.id)
        for step in range(5):
            run.log("loss", 1.0 / (step + 1))
        run.log_param("lr", 0.1)
    """
    code, out, err = run_to_end(
        collector, tmp_path, script=script, experiment=experiment, autolog=True
    )
    assert 0 == code, err
    run = the_run(collector, experiment)
    assert run["run_id"] == out.strip()
    assert c.STATUS_COMPLETED == run["status"]
    assert {"lr": "0.1"} == run["params"]
    with Client(collector.endpoint) as client:
        loss = client.get_metrics(run["run_id"], "loss")["loss"]
    assert [1.0, 0.5, 1 / 3, 0.25, 0.2] == loss


def test_no_autolog_still_gives_the_script_its_run(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    script = """
        import logging, os, runlog
        from runlog.instrumentation import _autolog
        print(os.environ["RUNLOG_AUTOLOG"], _autolog.instrumented(), runlog.active_run().id)
        logging.getLogger("train").warning("not recorded as a log record")
    """
    code, out, err = run_to_end(collector, tmp_path, script=script, experiment=experiment)
    assert 0 == code, err
    run = the_run(collector, experiment)
    assert f"0 [] {run['run_id']}" == out.strip()
    loggers = {line["logger"] for line in stored_lines(collector, run["run_id"])}
    assert "train" not in loggers


def test_the_script_does_not_inherit_the_bootstrap(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    """Processes the script starts (DataLoader workers …) do not run the bootstrap again."""
    script = """
        import os, sys
        print(os.environ.get("PYTHONPATH", ""))
        print("_bootstrap" in sys.modules.get("sitecustomize").__file__)
    """
    code, out, err = run_to_end(collector, tmp_path, script=script, experiment=experiment)
    assert 0 == code, err
    pythonpath, ran = out.splitlines()
    assert "_bootstrap" not in pythonpath
    assert "True" == ran


def test_a_sitecustomize_already_on_the_path_still_runs(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import builtins\nbuiltins.USER_SITE = 'ran'\n")
    script = """
        import builtins, sys
        print(builtins.USER_SITE, "_bootstrap" in sys.modules["sitecustomize"].__file__)
    """
    code, out, err = run_to_end(
        collector, tmp_path, script=script, experiment=experiment, env={"PYTHONPATH": str(site)}
    )
    assert 0 == code, err
    assert "ran True" == out.strip()


def test_a_shell_command_runs_too(collector: Any, tmp_path: Path, experiment: str) -> None:
    code, out, _ = run_to_end(
        collector, tmp_path, "--", "sh", "-c", "echo from sh; exit 4", experiment=experiment
    )
    assert 4 == code
    assert "from sh\n" == out
    run = the_run(collector, experiment)
    assert c.STATUS_FAILED == run["status"]
    assert "sh -c 'echo from sh; exit 4'" == run["properties"][c.PROPERTY_COMMAND]
    assert c.PROPERTY_PYTHON_VERSION not in run["properties"]  # no Python was launched


def test_a_fast_exit_records_every_line(collector: Any, tmp_path: Path, experiment: str) -> None:
    script = "for i in range(2000): print(f'line {i}')"
    code, out, err = run_to_end(collector, tmp_path, script=script, experiment=experiment)
    assert 0 == code, err
    run_id = the_run(collector, experiment)["run_id"]
    messages = [line["message"] for line in stored_lines(collector, run_id) if line["stream"]]
    assert [f"line {i}" for i in range(2000)] == messages
    assert 2000 == len(out.splitlines())


RIDGE = """
    import numpy as np
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1
    model = Ridge(alpha=0.5).fit(X, y)
    print(f"r2={model.score(X, y):.3f}")
"""


def test_unchanged_sklearn_script_under_runlog_run(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    """End to end: the script does not mention runlog; the launched run has its story."""
    pytest.importorskip("sklearn")
    from importlib.metadata import version

    code, out, err = run_to_end(
        collector, tmp_path, script=RIDGE, experiment=experiment, autolog=True
    )
    assert 0 == code, err
    run = launched_run(collector, experiment)
    assert c.STATUS_COMPLETED == run["status"]
    assert out.startswith("r2=")
    assert [out.strip()] == [
        line["message"] for line in stored_lines(collector, run["run_id"]) if line["stream"]
    ]
    props = run["properties"]
    assert version("scikit-learn") == props[c.PROPERTY_PACKAGE_PREFIX + "scikit-learn"]


def test_sklearn_params_land_in_the_launched_run(
    collector: Any, tmp_path: Path, experiment: str
) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("runlog.instrumentation.sklearn")
    code, _, err = run_to_end(
        collector, tmp_path, script=RIDGE, experiment=experiment, autolog=True
    )
    assert 0 == code, err
    params = launched_run(collector, experiment)["params"]
    assert ["0.5"] == [value for key, value in params.items() if key.endswith("alpha")]


def launched_run(collector: Any, experiment: str) -> dict[str, Any]:
    """The run ``runlog run`` started (instrumentors may have added child runs)."""
    with Client(collector.endpoint) as client:
        [found] = [r for r in client.search_runs(experiment) if not r.get("parent_id")]
        return client.get_run(found["run_id"])
