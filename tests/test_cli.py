"""The `runlog` command: usage and exit codes, then every query command on a real collector."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import _otlp_json as otlp
import httpx
import pytest
from click.testing import CliRunner, Result

from runlog import conventions as c
from runlog._cli_render import fmt_duration, fmt_size, pick_columns
from runlog.cli import cli
from runlog.client import Client
from runlog.exceptions import AuthenticationError


def invoke(*args: str, endpoint: str | None = None) -> Result:
    env = {c.ENV_ENDPOINT: endpoint} if endpoint else {}
    return CliRunner().invoke(
        cli, list(args), env={**env, c.ENV_TOKEN: None}, catch_exceptions=False
    )


def closed_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def assert_one_line_error(result: Result, code: int, words: str) -> None:
    assert code == result.exit_code, result.output
    assert words in result.stderr
    assert "Traceback" not in result.output
    assert 1 == len(result.stderr.strip().splitlines())


# --- usage, formatting and exit codes (no collector) ----------------------------------------


def test_help_lists_every_command() -> None:
    result = invoke("--help")
    assert 0 == result.exit_code
    for command in (
        "collector",
        "experiments",
        "runs",
        "show",
        "metrics",
        "files",
        "download",
        "sync",
        "models",
        "delete",
        "restore",
        "rename",
        "tag",
        "compare",
    ):
        assert command in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "--bogus"],
        ["show"],
        ["metrics"],
        ["nope"],
        ["runs", "--max-results", "0"],
        ["download", "r1"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert 2 == invoke(*args).exit_code


@pytest.mark.parametrize(
    "args",
    [
        ["runs"],
        ["experiments"],
        ["show", "r1"],
        ["metrics", "r1"],
        ["files", "r1"],
        ["download", "r1", "a.txt"],
    ],
)
def test_unreachable_collector_exits_3(args: list[str]) -> None:
    assert_one_line_error(invoke(*args, endpoint=closed_endpoint()), 3, "runlog collector")


def test_malformed_endpoint_is_a_usage_error() -> None:
    assert_one_line_error(invoke("--endpoint", "localhost:4318", "runs"), 2, "http://")


def test_malformed_run_id_exits_1() -> None:
    assert_one_line_error(
        invoke("show", "not a run id", endpoint=closed_endpoint()), 1, "runlog runs"
    )


def test_version() -> None:
    result = invoke("--version")
    assert 0 == result.exit_code
    assert result.output.startswith("runlog ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.4213, "0.42s"), (12.34, "12.3s"), (245, "4m 05s"), (7380, "2h 03m")],
)
def test_fmt_duration(seconds: float | None, text: str) -> None:
    assert text == fmt_duration(seconds)


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (512, "512 B"), (3482, "3.4 KiB"), (12 * 1024**2, "12.0 MiB")]
)
def test_fmt_size(size: int, text: str) -> None:
    assert text == fmt_size(size)


def test_points_of_rows_with_differing_columns_stay_aligned() -> None:
    from rich.console import Console

    from runlog._api_decode import Series
    from runlog._cli_render import points_table

    series = [
        Series("tbl", "a", "row", "int", [0, 1], [0, 0], [1, 3]),
        Series("tbl", "b", "row", "int", [0], [0], [2]),
        Series("tbl", "c", "row", "str", [1], [0], ["x"]),
    ]
    console = Console(record=True, width=60)
    console.print(points_table(series))
    rows = [
        [cell.strip() for cell in line.split("│")] for line in console.export_text().splitlines()
    ]
    assert [["0", "1", "2", ""], ["1", "3", "", "x"]] == rows[3:]


def test_pick_columns_puts_mentioned_keys_first_then_common_ones() -> None:
    runs = [
        {
            "run_id": f"r{i}",
            "params": {"alpha": "0.1", "seed": "1"},
            "metrics": [
                {"name": "mse", "column": "", "kind": "scalar", "last": 1.0},
                {"name": "r2", "column": "", "kind": "scalar", "last": 0.5},
            ],
        }
        for i in range(2)
    ]
    assert ["metrics.r2", "params.seed", "metrics.mse", "params.alpha"] == pick_columns(
        runs, ["metrics.r2 DESC", "params.seed = '1'"]
    )


# --- against a real collector ---------------------------------------------------------------


def new_id() -> str:
    return uuid.uuid4().hex[:16]


@pytest.fixture
def logged(collector: Any) -> dict[str, Any]:
    """Two runs in a fresh experiment; the first has a tag, a row metric and a file."""
    experiment = "cli-" + new_id()
    first, second = new_id(), new_id()
    otlp.send(
        collector.endpoint,
        first,
        experiment,
        [
            otlp.point("mse", 2.5),
            otlp.point("loss", 1.0, step=0),
            otlp.point("loss", 0.5, step=1),
            otlp.key_value(c.EVENT_PARAM, "alpha", "0.3"),
            otlp.key_value(c.EVENT_TAG, "selected", "yes"),
            otlp.point("Cos", 0.0, kind="row", column="angle"),
            otlp.point("Cos", 1.0, kind="row", column="cos"),
            otlp.end(),
        ],
        name="first-run",
    )
    otlp.send(
        collector.endpoint,
        second,
        experiment,
        [otlp.point("mse", 1.5), otlp.key_value(c.EVENT_PARAM, "alpha", "0.6")],
    )
    with Client(collector.endpoint) as client:
        client.upload_file(first, "outputs/model.pkl", b"model bytes")
    return {
        "endpoint": collector.endpoint,
        "experiment": experiment,
        "first": first,
        "second": second,
    }


def test_runs_table_shows_runs_and_metric_columns(logged: dict[str, Any]) -> None:
    result = invoke("runs", "-e", logged["experiment"], endpoint=logged["endpoint"])
    assert 0 == result.exit_code, result.output
    for text in (
        logged["first"],
        logged["second"],
        "first-run",
        "Completed",
        "metrics.mse",
        "params.alpha",
        "2.5",
        "0.6",
    ):
        assert text in result.output


def test_runs_of_an_unknown_experiment_say_so(logged: dict[str, Any]) -> None:
    result = invoke("runs", "-e", "typo-" + new_id(), endpoint=logged["endpoint"])
    assert_one_line_error(result, 1, "no experiment 'typo-")
    assert logged["experiment"] in result.output


def test_a_wrongly_cased_status_gets_a_hint(logged: dict[str, Any]) -> None:
    result = invoke(
        "runs",
        "-e",
        logged["experiment"],
        "--filter",
        "attributes.status = 'completed'",
        endpoint=logged["endpoint"],
    )
    assert 0 == result.exit_code, result.output
    assert "statuses are case-sensitive; did you mean 'Completed'?" in result.stderr


def test_a_filter_that_matches_nothing_says_so(logged: dict[str, Any]) -> None:
    result = invoke(
        "runs",
        "-e",
        logged["experiment"],
        "--filter",
        "metrics.mse > 1e9",
        endpoint=logged["endpoint"],
    )
    assert (0, "no runs match the filter 'metrics.mse > 1e9'") == (
        result.exit_code,
        result.stderr.strip(),
    )


def _long_runs() -> list[dict[str, Any]]:
    metrics = [
        {"name": f"metric_{k}", "column": "", "kind": "scalar", "last": 0.123456 * k}
        for k in range(8)
    ]
    return [
        {
            "run_id": f"diabetes-sweep-alpha-0.{i}-{'a1b2c3d4' * 2}",
            "experiment": "diabetes-sweep",
            "name": f"alpha {i}",
            "status": "Completed",
            "start_ns": time.time_ns(),
            "end_ns": time.time_ns() + 3_000_000_000,
            "params": {"alpha": f"0.{i}"},
            "metrics": metrics,
        }
        for i in range(3)
    ]


@pytest.mark.parametrize("width", [100, 120])
def test_runs_table_never_cuts_ids_and_fits_its_columns(width: int) -> None:
    from rich.console import Console

    from runlog._cli_render import runs_table

    found = _long_runs()
    extra = pick_columns(found, [])
    console = Console(record=True, width=width)
    table, left_out = runs_table(found, extra, show_experiment=False, width=width)
    console.print(table)
    text = console.export_text()

    lines = text.splitlines()
    assert all(run["run_id"] in text for run in found)
    assert "experiment" not in lines[0]
    assert 2 + len(found) == len(lines)  # one line per run: no wrapped dates or ids
    assert max(map(len, lines)) <= width
    assert left_out and set(left_out) | {"params.alpha"} <= set(extra)


def test_runs_json_ordered_and_limited(logged: dict[str, Any]) -> None:
    result = invoke(
        "runs",
        "-e",
        logged["experiment"],
        "--order-by",
        "metrics.mse ASC",
        "--json",
        endpoint=logged["endpoint"],
    )
    assert [logged["second"], logged["first"]] == [r["run_id"] for r in json.loads(result.output)]
    limited = invoke(
        "runs",
        "-e",
        logged["experiment"],
        "--filter",
        "params.alpha = '0.3'",
        "--max-results",
        "1",
        "--json",
        endpoint=logged["endpoint"],
    )
    assert [logged["first"]] == [r["run_id"] for r in json.loads(limited.output)]


def test_runs_with_explicit_columns(logged: dict[str, Any]) -> None:
    result = invoke(
        "runs",
        "-e",
        logged["experiment"],
        "--columns",
        "tags.selected",
        endpoint=logged["endpoint"],
    )
    assert "tags.selected" in result.output
    assert "metrics.mse" not in result.output


def test_malformed_filter_exits_1(logged: dict[str, Any]) -> None:
    result = invoke("runs", "--filter", "metrics.mse <<< 3", endpoint=logged["endpoint"])
    assert_one_line_error(result, 1, "Error")


def test_experiments(logged: dict[str, Any]) -> None:
    table = invoke("experiments", endpoint=logged["endpoint"])
    assert logged["experiment"] in table.output
    found = json.loads(invoke("experiments", "--json", endpoint=logged["endpoint"]).output)
    [mine] = [e for e in found if e["name"] == logged["experiment"]]
    assert 2 == mine["run_count"]


def test_show(logged: dict[str, Any]) -> None:
    result = invoke("show", logged["first"], endpoint=logged["endpoint"])
    assert 0 == result.exit_code, result.output
    for text in ("Completed", "selected", "alpha", "0.3", "mse", "Cos", "outputs/model.pkl"):
        assert text in result.output
    details = json.loads(
        invoke("show", logged["first"], "--json", endpoint=logged["endpoint"]).output
    )
    assert ({"alpha": "0.3"}, ["outputs/model.pkl"]) == (
        details["params"],
        [f["path"] for f in details["files"]],
    )


def test_show_unknown_run_exits_1(logged: dict[str, Any]) -> None:
    assert_one_line_error(
        invoke("show", "no-such-run", endpoint=logged["endpoint"]), 1, "no-such-run"
    )


def test_metrics_summaries_and_points(logged: dict[str, Any]) -> None:
    summaries = invoke("metrics", logged["first"], endpoint=logged["endpoint"])
    assert all(name in summaries.output for name in ("mse", "loss", "Cos"))
    points = json.loads(
        invoke("metrics", logged["first"], "loss", "--json", endpoint=logged["endpoint"]).output
    )
    assert [([0, 1], [1.0, 0.5])] == [(s["steps"], s["values"]) for s in points]
    table = invoke("metrics", logged["first"], "Cos", endpoint=logged["endpoint"])
    assert "angle" in table.output and "cos" in table.output
    column = json.loads(
        invoke(
            "metrics",
            logged["first"],
            "Cos",
            "--column",
            "cos",
            "--json",
            endpoint=logged["endpoint"],
        ).output
    )
    assert [("cos", [1.0])] == [(s["column"], s["values"]) for s in column]


@pytest.fixture
def long_metric(collector: Any, client_env: None) -> dict[str, Any]:
    import runlog

    run = runlog.Experiment(runlog.Workspace(collector.endpoint), "long").start_logging()
    for step in range(2000):
        run.log("loss", 1.0 / (1 + step))
    run.complete()
    return {"endpoint": collector.endpoint, "run": run.id}


def test_metrics_of_a_long_metric_show_a_summary_and_a_chart(long_metric: dict[str, Any]) -> None:
    result = invoke("metrics", long_metric["run"], "loss", endpoint=long_metric["endpoint"])

    assert 0 == result.exit_code, result.output
    lines = result.output.splitlines()
    assert len(lines) < 25  # not 2000 rows
    assert ["points:", "2000"] == lines[1].split()
    assert "█" in result.output and "step 0" in result.output and "step 1999" in result.output
    assert "(2000 points; every one with --all, --csv or --json)" == lines[-1]


def test_metrics_csv_and_all_print_every_point(long_metric: dict[str, Any]) -> None:
    as_csv = invoke(
        "metrics", long_metric["run"], "loss", "--csv", endpoint=long_metric["endpoint"]
    )
    rows = as_csv.output.splitlines()
    assert (2001, "step,time_ns,loss") == (len(rows), rows[0])
    assert ["1", "0.5"] == [rows[2].split(",")[0], rows[2].split(",")[2]]
    every = invoke("metrics", long_metric["run"], "loss", "--all", endpoint=long_metric["endpoint"])
    assert 2000 < len(every.output.splitlines())


def test_chart_draws_a_falling_line() -> None:
    from runlog._api_decode import Series
    from runlog._cli_render import chart

    falling = Series("loss", "", "scalar", "f8", [0, 1, 2, 3], [0] * 4, [4.0, 3.0, 2.0, 1.0])

    drawn = chart(falling, 23, 4)

    assert [
        "4 ┤██      ",
        "  ┤██▆▆    ",
        "  ┤████▃▃  ",
        "1 ┤██████▁▁",
        "  └────────",
        "   steps 0-3",
    ] == drawn.splitlines()


def test_tag_rename_delete_and_restore_from_the_shell(logged: dict[str, Any]) -> None:
    run, endpoint = logged["first"], logged["endpoint"]

    tagged = invoke("tag", run, "owner=o'brien", "--delete", "selected", endpoint=endpoint)
    renamed = invoke("rename", run, "better name", endpoint=endpoint)
    deleted = invoke("delete", run, endpoint=endpoint)
    listed_deleted = invoke("runs", "-e", logged["experiment"], "--json", endpoint=endpoint)
    restored = invoke("restore", run, endpoint=endpoint)
    listed = invoke("runs", "-e", logged["experiment"], "--json", endpoint=endpoint)

    assert [0, 0, 0, 0] == [r.exit_code for r in (tagged, renamed, deleted, restored)]
    assert "o'brien" in tagged.output and "selected" not in tagged.output
    assert [logged["second"]] == [r["run_id"] for r in json.loads(listed_deleted.output)]
    (shown,) = [r for r in json.loads(listed.output) if r["run_id"] == run]
    assert ("better name", {"owner": "o'brien"}) == (shown["name"], shown["tags"])


def test_tag_of_a_missing_run_exits_1(logged: dict[str, Any]) -> None:
    result = invoke("tag", "nope-" + new_id(), "a=b", endpoint=logged["endpoint"])
    assert_one_line_error(result, 1, "does not exist")


def test_compare_shows_differing_params_and_last_metrics(logged: dict[str, Any]) -> None:
    result = invoke(
        "compare", logged["first"], logged["second"], "--json", endpoint=logged["endpoint"]
    )
    rows = {row["key"]: row["values"] for row in json.loads(result.output)}
    assert ["0.3", "0.6"] == rows["params.alpha"]
    assert [2.5, 1.5] == rows["metrics.mse"]
    assert [0.5, None] == rows["metrics.loss"]
    table = invoke("compare", logged["first"], logged["second"], endpoint=logged["endpoint"])
    assert "-1" in table.output  # mse: 1.5 - 2.5


@pytest.mark.parametrize("args", [["nosuch"], ["Cos", "--column", "sin"]])
def test_metrics_unknown_name_or_column_exits_1(logged: dict[str, Any], args: list[str]) -> None:
    assert_one_line_error(
        invoke("metrics", logged["first"], *args, endpoint=logged["endpoint"]),
        1,
        "runlog metrics" if args == ["nosuch"] else "columns",
    )


def test_metrics_json_keeps_non_finite_values_strict(collector: Any) -> None:
    run_id = new_id()
    otlp.send(
        collector.endpoint,
        run_id,
        "cli-nonfinite",
        [otlp.point("x", math.inf), otlp.point("x", 1.0)],
    )
    out = invoke("metrics", run_id, "x", "--json", endpoint=collector.endpoint).output
    assert ["Infinity", 1.0] == json.loads(out)[0]["values"]
    assert "Infinity" in out and "inf" not in out.replace("Infinity", "")


def test_files_and_download(logged: dict[str, Any], tmp_path: Path) -> None:
    listed = json.loads(
        invoke("files", logged["first"], "--json", endpoint=logged["endpoint"]).output
    )
    assert [("outputs/model.pkl", 11)] == [(f["path"], f["size"]) for f in listed]
    assert (
        "outputs/model.pkl" in invoke("files", logged["first"], endpoint=logged["endpoint"]).output
    )
    target = tmp_path / "model.bin"
    result = invoke(
        "download",
        logged["first"],
        "outputs/model.pkl",
        "-o",
        str(target),
        endpoint=logged["endpoint"],
    )
    assert (0, str(target)) == (result.exit_code, result.output.strip())
    assert b"model bytes" == target.read_bytes()
    umask = os.umask(0o022)
    os.umask(umask)
    assert oct(0o666 & ~umask) == oct(target.stat().st_mode & 0o777)  # not mkstemp's 0600


def test_download_refuses_to_overwrite_without_force(
    logged: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(b"mine")
    args = ["download", logged["first"], "outputs/model.pkl", "-o", str(target)]

    refused = invoke(*args, endpoint=logged["endpoint"])

    assert_one_line_error(refused, 1, "pass --force to overwrite it")
    assert b"mine" == target.read_bytes()
    forced = invoke(*args, "--force", endpoint=logged["endpoint"])
    assert (0, b"model bytes") == (forced.exit_code, target.read_bytes())


def test_an_otlp_path_in_the_endpoint_is_the_collector_itself(collector: Any) -> None:
    """An endpoint copied with its OTLP path (``.../v1/logs``) means the collector it names."""
    result = invoke("runs", endpoint=collector.endpoint + "/v1/logs")
    assert 0 == result.exit_code, result.output


def test_a_foreign_html_server_is_summarised_and_exits_3() -> None:
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><html><head><title>Welcome to nginx</title></head>"
            body += b"<body>" + b"<p>lots of markup</p>" * 200 + b"</body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = invoke("runs", endpoint=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert_one_line_error(result, 3, "with an HTML page ('Welcome to nginx'), HTTP 404")
    assert "<p>" not in result.stderr


def test_download_of_a_missing_run_says_the_run_is_missing(
    logged: dict[str, Any], tmp_path: Path
) -> None:
    result = invoke(
        "download",
        "no-such-run-" + new_id(),
        "a.txt",
        "-o",
        str(tmp_path / "a"),
        endpoint=logged["endpoint"],
    )
    assert_one_line_error(result, 1, "Error: run 'no-such-run-")
    assert "does not exist" in result.stderr
    assert "has no file" not in result.stderr


def test_download_unknown_file_exits_1(logged: dict[str, Any], tmp_path: Path) -> None:
    result = invoke(
        "download",
        logged["first"],
        "nope.txt",
        "-o",
        str(tmp_path / "x"),
        endpoint=logged["endpoint"],
    )
    assert_one_line_error(result, 1, "nope.txt")
    assert not (tmp_path / "x").exists()


def test_collector_refuses_public_address_without_token(tmp_path: Path) -> None:
    pytest.importorskip("collectors.server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = invoke(
        "collector",
        "--data-dir",
        str(tmp_path),
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
        "--no-grpc",
        "--no-replay",
    )
    assert_one_line_error(result, 2, "token")


# --- sync -----------------------------------------------------------------------------------


def spool_one_run(directory: Path, run_id: str, destination: str) -> None:
    """Put one logs request for *run_id* into a spool, as the client does when offline."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    from runlog.spool import Spool

    body = json_format.ParseDict(
        otlp.request(run_id, "cli-sync", [otlp.point("m", 1.0)]), ExportLogsServiceRequest()
    )
    Spool(directory, destination=destination).write_logs(body.SerializeToString())


def test_sync_of_an_empty_spool(tmp_path: Path) -> None:
    result = invoke("sync", "--spool-dir", str(tmp_path), endpoint=closed_endpoint())
    assert (0, "replayed 0 spooled entries") == (result.exit_code, result.output.split(" to ")[0])


def test_sync_without_collector_keeps_the_spool_and_exits_3(tmp_path: Path) -> None:
    endpoint = closed_endpoint()
    spool_one_run(tmp_path, new_id(), endpoint)
    result = invoke("sync", "--spool-dir", str(tmp_path), endpoint=endpoint)
    assert 3 == result.exit_code
    assert "runlog sync" in result.stderr
    assert 1 == len([p for p in tmp_path.iterdir() if not p.name.startswith(".")])


def test_sync_replays_into_the_collector(collector: Any, tmp_path: Path) -> None:
    run_id = new_id()
    spool_one_run(tmp_path, run_id, collector.endpoint)
    result = invoke("sync", "--spool-dir", str(tmp_path), endpoint=collector.endpoint)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("replayed 1 spooled entry")
    with Client(collector.endpoint) as client:
        assert {"m": 1.0} == client.get_metrics(run_id)


# --- `runlog collector` as a real process -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def token_collector(tmp_path: Path) -> Any:
    """`runlog collector --token s3cret` started through the CLI on free loopback ports."""
    pytest.importorskip("collectors.server")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        c.ENV_SPOOL_DIR: str(tmp_path / "spool"),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runlog.cli",
            "collector",
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            str(port),
            "--grpc-port",
            str(free_port()),
            "--token",
            "s3cret",
            "--no-replay",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"{endpoint}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=15)
        assert process.stdout is not None
        process.stdout.close()


def test_collector_command_serves_with_a_token(token_collector: str) -> None:
    with (
        Client(token_collector, token="wrong") as client,
        pytest.raises(AuthenticationError, match="--token"),
    ):
        client.list_experiments()
    with Client(token_collector, token="s3cret") as client:
        client.upload_file("tok-run", "a.txt", b"x", experiment="tok")
    assert_one_line_error(invoke("runs", endpoint=token_collector), 1, "token")
    result = invoke("--token", "s3cret", "runs", "--json", endpoint=token_collector)
    assert ["tok-run"] == [r["run_id"] for r in json.loads(result.output)]


def test_deleted_runs_and_experiments_are_marked_in_tables(collector: Any) -> None:
    name = f"cli-deleted-{uuid.uuid4().hex[:8]}"
    mlflow_api = f"{collector.endpoint}/api/2.0/mlflow"
    experiment_id = httpx.post(f"{mlflow_api}/experiments/create", json={"name": name}).json()[
        "experiment_id"
    ]
    created = httpx.post(f"{mlflow_api}/runs/create", json={"experiment_id": experiment_id})
    run_id = created.json()["run"]["info"]["run_id"]
    httpx.post(f"{mlflow_api}/runs/delete", json={"run_id": run_id}).raise_for_status()
    httpx.post(f"{mlflow_api}/experiments/delete", json={"experiment_id": experiment_id})

    shown = invoke("show", run_id, endpoint=collector.endpoint)
    listed = invoke("runs", "-e", name, "--include-deleted", endpoint=collector.endpoint)
    experiments = invoke("experiments", "--include-deleted", endpoint=collector.endpoint)

    assert "Running (deleted)" in shown.stdout
    assert "Running (deleted)" in listed.stdout
    assert f"{name} (deleted)" in experiments.stdout


def test_ui_opens_the_studio_at_the_run(
    logged: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = tmp_path / "opened"
    # webbrowser runs $BROWSER with the URL for %s: a "browser" that writes it down.
    monkeypatch.setenv("BROWSER", f"sh -c 'printf %s \"$0\" > {opened}' %s")

    result = invoke("ui", logged["first"], endpoint=logged["endpoint"])

    url = f"{logged['endpoint']}/#/runs/{logged['first']}"
    assert (0, url) == (result.exit_code, result.output.strip())
    for _ in range(50):  # the browser command runs in the background
        if opened.exists() and opened.read_text():
            break
        time.sleep(0.1)
    assert url == opened.read_text()


def test_ui_without_a_run_prints_the_studio_url(logged: dict[str, Any]) -> None:
    result = invoke("ui", "--no-browser", endpoint=logged["endpoint"])

    assert (0, f"{logged['endpoint']}/") == (result.exit_code, result.output.strip())
    assert 200 == httpx.get(result.output.strip()).status_code


def test_ui_refuses_an_unknown_run_and_a_dead_collector(logged: dict[str, Any]) -> None:
    assert_one_line_error(
        invoke("ui", "no-such-run", "--no-browser", endpoint=logged["endpoint"]), 1, "no-such-run"
    )
    assert 3 == invoke("ui", "--no-browser", endpoint=closed_endpoint()).exit_code
