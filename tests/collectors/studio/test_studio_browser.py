"""The studio in a real headless Chromium against a real collector holding real runs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from browser import READY
from collector_process import REPO_ROOT, run_collector
from studio_env import LIVE_SCRIPT, Page, Studio, run_script

from runlog import conventions as c

NOT_FOUND_RESOURCE = "the server responded with a status of 404"


def test_every_page_renders_without_console_errors(page: Page, studio: Studio) -> None:
    sweep = studio.runs("diabetes-sweep")
    [tour] = studio.runs("logging-api-tour")
    [traced] = studio.runs("traced-training")
    wheres = ["/", f"/#/experiments/{studio.experiment_id('diabetes-sweep')}"]
    for run in (tour, traced):
        wheres += [f"/#/runs/{run['run_id']}?tab={tab}" for tab in
                   ("overview", "metrics", "images", "logs", "timeline", "files")]  # fmt: skip
    wheres.append(f"/#/compare?runs={sweep[0]['run_id']},{sweep[1]['run_id']}")
    wheres.append("/#/compute")

    for where in wheres:
        shown = page.open(where)
        assert shown.locator("main h1, main h2").first.is_visible(), where
        assert [] == page.errors, where


def test_the_sweep_scatter_shows_alpha_against_mse(page: Page, studio: Studio) -> None:
    shown = page.open(f"/#/experiments/{studio.experiment_id('diabetes-sweep')}")

    scatter = shown.locator("svg.scatter")
    assert 20 == scatter.locator("circle.pt").count()
    assert ["mse", "alpha"] == scatter.locator("text.axis-label").all_text_contents()[::-1]
    assert 20 == shown.locator("svg.parallel path.line").count()


def test_a_filter_narrows_the_table_and_survives_a_reload(page: Page, studio: Studio) -> None:
    best = sorted(run["metrics"][1]["last"] for run in studio.runs("diabetes-sweep"))[4]
    shown = page.open(f"/#/experiments/{studio.experiment_id('diabetes-sweep')}")
    shown.get_by_label("Filter runs").fill(f"metrics.mse <= {best}")
    shown.get_by_role("button", name="Filter").click()
    shown.wait_for_selector("text=5 runs match")

    assert 5 == shown.locator("svg.scatter circle.pt").count()
    shown.reload()
    shown.wait_for_selector(READY)
    shown.wait_for_selector("text=5 runs match")
    assert f"metrics.mse <= {best}" == shown.get_by_label("Filter runs").input_value()


def test_a_malformed_filter_shows_its_error_by_the_box(page: Page, studio: Studio) -> None:
    shown = page.open(f"/#/experiments/{studio.experiment_id('diabetes-sweep')}")
    shown.get_by_label("Filter runs").fill("metrics.mse <")
    shown.get_by_role("button", name="Filter").click()

    error = shown.locator("#filter-error")
    error.wait_for()
    assert "expected" in error.inner_text()
    assert "true" == shown.get_by_label("Filter runs").get_attribute("aria-invalid")


def test_the_table_answers_the_keyboard(page: Page, studio: Studio) -> None:
    shown = page.open(f"/#/experiments/{studio.experiment_id('diabetes-sweep')}")
    table = shown.get_by_role("region", name="Runs of diabetes-sweep")
    table.focus()
    shown.keyboard.press("ArrowDown")
    shown.keyboard.press("Space")
    shown.keyboard.press("ArrowDown")
    shown.keyboard.press("Space")

    assert "2 selected" == shown.locator(".selection-info").inner_text()
    assert 2 == shown.locator("svg.scatter circle.pt").count()
    assert "sel=" in shown.url
    shown.keyboard.press("Enter")
    shown.wait_for_selector(".run-title h1")
    assert "#/runs/" in shown.url


def test_an_image_shows_in_the_gallery(page: Page, studio: Studio) -> None:
    [tour] = studio.runs("logging-api-tour")
    shown = page.open(f"/#/runs/{tour['run_id']}?tab=images")

    image = shown.locator("img.gallery-image")
    image.wait_for()
    shown.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert "step 0 · 1 of 1 · images/Sine_plot.png" == shown.locator(".gallery p").inner_text()


def test_a_file_downloads_byte_exact(page: Page, studio: Studio) -> None:
    run = studio.runs("diabetes-sweep")[0]
    with studio.collector.client() as client:
        expected = client.get(f"/api/v1/runs/{run['run_id']}/files/outputs/model.pkl").content
    shown = page.open(f"/#/runs/{run['run_id']}?tab=files")
    shown.get_by_role("link", name="Download").wait_for()

    with shown.expect_download() as started:
        shown.get_by_role("link", name="Download").click()

    assert "model.pkl" == started.value.suggested_filename
    assert expected == Path(started.value.path()).read_bytes()


def test_the_url_mlflow_prints_opens_the_run(page: Page, studio: Studio) -> None:
    url = studio.mlflow_run_url()
    [run] = studio.runs("experiment_with_mlflow")
    assert url.endswith(
        f"/#/experiments/{studio.experiment_id('experiment_with_mlflow')}/runs/{run['run_id']}"
    )

    shown = page.open(url.removeprefix(studio.collector.endpoint))

    assert run["name"] == shown.locator(".run-title h1").inner_text()
    assert [] == page.errors


def test_the_portal_url_opens_the_run(page: Page, studio: Studio) -> None:
    [tour] = studio.runs("logging-api-tour")
    shown = page.open(f"/#/runs/{tour['run_id']}")  # what run.get_portal_url() returns

    assert tour["run_id"] in shown.locator(".run-meta").inner_text()


def test_tags_are_edited_on_the_run_page(page: Page, studio: Studio) -> None:
    run = studio.runs("diabetes-sweep")[3]
    shown = page.open(f"/#/runs/{run['run_id']}")
    shown.get_by_label("New tag key").fill("reviewed")
    shown.get_by_label("New tag value").fill("<b>yes</b>")
    shown.get_by_role("button", name="Add tag").click()
    shown.locator(".tag-value", has_text="<b>yes</b>").wait_for()

    with studio.collector.client() as client:
        assert (
            "<b>yes</b>" == client.get(f"/api/v1/runs/{run['run_id']}").json()["tags"]["reviewed"]
        )
    shown.get_by_label("Remove tag reviewed").click()
    shown.locator(".tag-value", has_text="<b>yes</b>").wait_for(state="detached")


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("/#/runs/no-such-run", "There is no run “no-such-run”"),
        ("/#/experiments/987654", "Experiment 987654 does not exist"),
        ("/#/nowhere/at/all", "is not one the studio knows"),
    ],
)
def test_unknown_ids_get_a_friendly_page(page: Page, studio: Studio, where: str, says: str) -> None:
    shown = page.open(where)

    assert says in shown.locator(".notfound").inner_text()
    assert shown.get_by_role("link", name="All experiments").is_visible()
    assert all(NOT_FOUND_RESOURCE in error for error in page.errors), page.errors


def test_a_running_runs_chart_grows_while_the_page_is_open(
    page: Page, studio: Studio, tmp_path: Path
) -> None:
    stop = tmp_path / "stop"
    env_cwd = tmp_path
    process = subprocess.Popen(
        [sys.executable, "-c", LIVE_SCRIPT, str(stop), "live", "growing-run"],
        cwd=env_cwd,
        env=_client_env(studio, tmp_path),
    )
    try:
        run = _wait_for_run(studio, "live")
        shown = page.open(f"/#/runs/{run['run_id']}?tab=metrics")
        chart = shown.locator("[data-metric=loss] .linechart")
        chart.wait_for()
        shown.evaluate("window.__sameDocument = true")
        first = int(chart.get_attribute("data-points") or 0)
        deadline = time.monotonic() + 15
        while int(chart.get_attribute("data-points") or 0) <= first + 20:
            assert time.monotonic() < deadline, "the chart did not grow"
            shown.wait_for_timeout(200)
        assert shown.evaluate("window.__sameDocument === true")  # no reload happened
        assert "Running" == shown.locator(".run-title .status").inner_text()
    finally:
        stop.touch()
        process.wait(30)
    assert [] == page.errors


def test_a_metric_of_ten_million_points_opens(page: Page, studio: Studio) -> None:
    count, part = 10_000_000, 1_000_000
    for start in range(0, count, part):
        steps = np.arange(start, start + part, dtype="<i8")
        _send_packed(studio, "huge", "loss", steps, np.sin(steps / 1e5))
    shown = page.open("/#/runs/huge?tab=metrics")
    chart = shown.locator("[data-metric=loss] .linechart")
    chart.wait_for()
    shown.wait_for_function("el => Number(el.dataset.points) > 100", arg=chart.element_handle())

    assert int(chart.get_attribute("data-points") or 0) <= 4000
    assert (
        "10,000,000 points · min/max per pixel" in shown.locator("[data-metric=loss]").inner_text()
    )
    assert str(count - 1) == chart.get_attribute("data-last-x")


def test_with_a_token_the_page_asks_for_it_and_shows_no_data(
    browser: Any, tmp_path: Path, studio: Studio
) -> None:
    with run_collector(tmp_path / "data", token="t0ken") as guarded:
        script = "import runlog\nwith runlog.start_run(experiment='secret-experiment'): pass"
        run_script(guarded, tmp_path, sys.executable, "-c", script)
        context = browser.new_context()
        shown = context.new_page()
        shown.goto(guarded.endpoint + "/")
        shown.wait_for_selector(READY)

        assert shown.get_by_role("heading", name="Sign in").is_visible()
        assert "secret-experiment" not in shown.content()
        shown.get_by_label("Token").fill("wrong")
        shown.get_by_role("button", name="Sign in").click()
        shown.get_by_text("That token was refused").wait_for()
        shown.get_by_label("Token").fill("t0ken")
        shown.get_by_role("button", name="Sign in").click()
        shown.get_by_role("link", name="secret-experiment").wait_for()
        shown.reload()  # asked once: kept in the browser
        shown.get_by_role("link", name="secret-experiment").wait_for()
        context.close()


def _client_env(studio: Studio, tmp_path: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOG_")}
    env["RUNLOG_ENDPOINT"] = studio.collector.endpoint
    env["RUNLOG_SPOOL_DIR"] = str(tmp_path / "spool")
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def _wait_for_run(studio: Studio, experiment: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = studio.runs(experiment)
        if runs and runs[0]["metrics"]:
            return runs[0]
        time.sleep(0.2)
    raise AssertionError(f"no run in {experiment!r}")


def _send_packed(studio: Studio, run_id: str, name: str, steps: Any, values: Any) -> None:
    from otlp_builders import event, logs_request

    attributes = {
        c.METRIC_NAME: name,
        c.METRIC_DTYPE: "f8",
        c.METRIC_STEPS: steps.astype("<i8").tobytes(),
        c.METRIC_TIMESTAMPS: (steps + 1_700_000_000_000_000_000).astype("<i8").tobytes(),
        c.METRIC_VALUES: values.astype("<f8").tobytes(),
    }
    body = logs_request(event(c.EVENT_METRIC_PACKED, attributes), resource={c.RUN_ID: run_id})
    answer = httpx.post(
        studio.collector.endpoint + "/v1/logs",
        content=body.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
        timeout=120,
    )
    assert 200 == answer.status_code, answer.text
