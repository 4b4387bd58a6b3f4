"""`RunDetails` in a real Jupyter kernel (nbclient) and in a plain terminal."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _notebook(endpoint: str, spool: Path) -> Any:
    nbformat = pytest.importorskip("nbformat")
    cells = [
        f"import os, json, time\nos.environ['RUNLOG_ENDPOINT'] = {endpoint!r}\n"
        f"os.environ['RUNLOG_SPOOL_DIR'] = {str(spool)!r}\n"
        f"import sys; sys.path.insert(0, {str(REPO)!r})",
        "import runlog\nfrom runlog.widgets import RunDetails\n"
        "run = runlog.start_run(experiment='notebook', name='in-a-notebook')\n"
        "for i in range(20):\n    run.log('loss', 1 / (i + 1))\n"
        "child = run.child_run(name='fold-1'); child.log('acc', 0.5); child.complete()\n"
        "details = RunDetails(run, refresh_seconds=0.3)\ndetails.show()",
        "def state():\n    w = details.widget\n"
        "    return {'status': w.status, 'live': w.live,\n"
        "            'metrics': {m['name']: m['count'] for m in w.metrics},\n"
        "            'children': [c['status'] for c in w.children],\n"
        "            'follows': details._thread.is_alive()}\n"
        "run.log('loss', 0.01)\ndeadline = time.time() + 20\n"
        "while details.widget.metrics[0]['count'] < 21 and time.time() < deadline:\n"
        "    time.sleep(0.1)\nprint(json.dumps(state()))",
        "run.complete()\ndeadline = time.time() + 20\n"
        "while details._thread.is_alive() and time.time() < deadline:\n    time.sleep(0.1)\n"
        "print(json.dumps(state()))",
    ]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in cells])


def test_the_widget_follows_the_run_in_a_real_kernel(collector: Any, tmp_path: Path) -> None:
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("anywidget")
    pytest.importorskip("ipykernel")
    notebook = _notebook(collector.endpoint, tmp_path / "spool")

    nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()  # fmt: skip

    shown = notebook.cells[1].outputs[0]["data"]
    model_id = shown[WIDGET_VIEW]["model_id"]
    running = json.loads(notebook.cells[2].outputs[0]["text"])
    ended = json.loads(notebook.cells[3].outputs[0]["text"])
    assert {"status": "Running", "live": True, "metrics": {"loss": 21},
            "children": ["Completed"], "follows": True} == running  # fmt: skip
    assert {"status": "Completed", "live": False, "metrics": {"loss": 21},
            "children": ["Completed"], "follows": False} == ended  # fmt: skip
    saved = notebook.metadata["widgets"][WIDGET_STATE]["state"][model_id]["state"]
    assert ("Completed", "in-a-notebook") == (saved["status"], saved["name"])
    assert saved["studio_url"].endswith(f"/#/runs/{saved['run_id']}")


def test_in_a_terminal_show_prints_a_summary_and_the_studio_url(
    collector: Any,
    client_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import runlog

    monkeypatch.setenv("RUNLOG_ENDPOINT", collector.endpoint)
    from runlog.widgets import RunDetails

    with runlog.start_run(experiment="terminal", name="plain") as run:
        run.log("mse", 3.5)
    RunDetails(run).show()

    out = capsys.readouterr().out
    assert f"Run plain ({run.id}) in terminal: Completed" in out
    assert "  mse: 3.5 (1 points)" in out
    assert f"Studio: {collector.endpoint}/#/runs/{run.id}" in out


def test_the_widget_module_does_not_load_anywidget_until_shown() -> None:
    import subprocess

    code = "import runlog.widgets, sys; print('anywidget' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert "False" == done.stdout.strip()
