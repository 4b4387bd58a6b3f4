"""runlog.client: pure decoders and shaping (tables), then HTTP behaviour on a real collector."""

from __future__ import annotations

import io
import math
import socket
import struct
import time
import uuid
from pathlib import Path
from typing import Any

import _otlp_json as otlp
import httpx
import pytest

from runlog import conventions as c
from runlog._api_decode import (
    Series,
    decode_binary,
    decode_summary,
    decode_value,
    decode_values,
    decode_vector,
    jsonable,
    shape_metrics,
)
from runlog.client import Client, error_for, run_row, runs_to_pandas
from runlog.exceptions import (
    AuthenticationError,
    CollectorUnavailableError,
    InvalidArgumentError,
    NotFoundError,
    RunlogError,
)

INF = math.inf

# --- pure: values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "dtype", "expected"),
    [
        (1.5, "f8", 1.5),
        (3, "f8", 3.0),
        ("Infinity", "f8", INF),
        ("-Infinity", "f8", -INF),
        (2**62 + 1, "i8", 2**62 + 1),
        (True, "bool", True),
        (1, "bool", True),
        ("NaN", "str", "NaN"),
        ("hello", "str", "hello"),
    ],
)
def test_decode_value(raw: Any, dtype: str, expected: Any) -> None:
    assert expected == decode_value(raw, dtype)
    assert type(expected) is type(decode_value(raw, dtype))


def test_decode_value_nan_string_in_f8_is_float_nan() -> None:
    assert math.isnan(decode_value("NaN", "f8"))


def test_mixed_values_use_per_point_dtypes() -> None:
    values = decode_values(["NaN", "NaN", 2, True], "mixed", ["f8", "str", "i8", "bool"])
    assert math.isnan(values[0])
    assert ["NaN", 2, True] == values[1:]


def test_mixed_values_without_dtypes_is_an_error() -> None:
    with pytest.raises(InvalidArgumentError, match="one dtype per point"):
        decode_values([1, "a"], "mixed")


def test_decode_vector_restores_non_finite_floats() -> None:
    series = decode_vector(
        {
            "name": "loss",
            "column": "",
            "kind": "scalar",
            "dtype": "f8",
            "count": 3,
            "steps": [0, 1, 2],
            "timestamps": [10, 20, 30],
            "values": [1.0, "Infinity", "-Infinity"],
            "downsampled": False,
        }
    )
    assert Series("loss", "", "scalar", "f8", [0, 1, 2], [10, 20, 30], [1.0, INF, -INF]) == series


def test_decode_summary_decodes_last_min_max() -> None:
    summary = decode_summary(
        {
            "name": "x",
            "column": "",
            "kind": "scalar",
            "dtype": "f8",
            "count": 2,
            "last": "-Infinity",
            "min": "-Infinity",
            "max": 3.0,
        }
    )
    assert (-INF, -INF, 3.0) == (summary["last"], summary["min"], summary["max"])


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"a": [1.0, math.inf, -math.inf]}, {"a": [1.0, "Infinity", "-Infinity"]}),
        ([math.nan, "x", 2], ["NaN", "x", 2]),
    ],
)
def test_jsonable_writes_non_finite_floats_as_api_strings(obj: Any, expected: Any) -> None:
    assert expected == jsonable(obj)


# --- pure: binary vectors -------------------------------------------------------------------


def _binary(steps: list[int], times: list[int], fmt: str, values: list[Any]) -> bytes:
    n = len(steps)
    return (
        struct.pack(f"<{n}q", *steps)
        + struct.pack(f"<{n}q", *times)
        + struct.pack(f"<{n}{fmt}", *values)
    )


@pytest.mark.parametrize(
    ("dtype", "fmt", "values"),
    [
        ("f8", "d", [0.1, -INF, 1e308]),
        ("i8", "q", [-(2**63), 0, 2**63 - 1]),
        ("bool", "B", [1, 0, 1]),
    ],
)
def test_decode_binary_reads_little_endian_arrays(dtype: str, fmt: str, values: list[Any]) -> None:
    body = _binary([0, 5, 9], [100, 200, 300], fmt, values)
    series = decode_binary(body, name="m", column="", kind="scalar", dtype=dtype, count=3)
    expected = [bool(v) for v in values] if dtype == "bool" else values
    assert Series("m", "", "scalar", dtype, [0, 5, 9], [100, 200, 300], expected) == series


def test_decode_binary_keeps_nan_bits() -> None:
    body = _binary([0], [1], "d", [math.nan])
    assert math.isnan(
        decode_binary(body, name="m", column="", kind="scalar", dtype="f8", count=1).values[0]
    )


@pytest.mark.parametrize(("dtype", "count"), [("f8", 4), ("str", 3)])
def test_decode_binary_refuses_bad_length_or_dtype(dtype: str, count: int) -> None:
    body = _binary([0, 1, 2], [0, 1, 2], "d", [1.0, 2.0, 3.0])
    with pytest.raises(InvalidArgumentError):
        decode_binary(body, name="m", column="", kind="scalar", dtype=dtype, count=count)


# --- pure: get_metrics shapes -----------------------------------------------------------------


def _s(name: str, kind: str, values: list[Any], column: str = "") -> Series:
    return Series(name, column, kind, "f8", list(range(len(values))), [0] * len(values), values)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ([_s("alpha", "scalar", [0.03])], {"alpha": 0.03}),
        ([_s("loss", "scalar", [3.0, 2.0, 1.0])], {"loss": [3.0, 2.0, 1.0]}),
        ([_s("acc", "list", [0.6])], {"acc": [0.6]}),
        ([_s("acc", "list", [0.6, 0.7])], {"acc": [0.6, 0.7]}),
        (
            [_s("Cos", "row", [0.5, 1.0], "angle"), _s("Cos", "row", [0.87, 0.54], "cos")],
            {"Cos": {"angle": [0.5, 1.0], "cos": [0.87, 0.54]}},
        ),
        (
            [_s("Sine", "table", [0, 1], "angle"), _s("Sine", "table", [0.0, 0.84], "sine")],
            {"Sine": {"angle": [0, 1], "sine": [0.0, 0.84]}},
        ),
        ([_s("ROC", "image", ["images/ROC.png"])], {"ROC": "images/ROC.png"}),
        (
            [_s("ROC", "image", ["images/ROC.png", "images/ROC_1.png"])],
            {"ROC": ["images/ROC.png", "images/ROC_1.png"]},
        ),
        ([_s("note", "scalar", ["hello"])], {"note": "hello"}),
        ([], {}),
    ],
)
def test_shape_metrics_follows_azure_ml_v1(columns: list[Series], expected: dict[str, Any]) -> None:
    assert expected == shape_metrics(columns)


def test_shape_metrics_keeps_names_and_columns_in_order() -> None:
    shaped = shape_metrics(
        [
            _s("b", "scalar", [1.0]),
            _s("t", "row", [1], "z"),
            _s("a", "scalar", [2.0]),
            _s("t", "row", [2], "y"),
        ]
    )
    assert ["b", "t", "a"] == list(shaped)
    assert ["z", "y"] == list(shaped["t"])


# --- pure: errors and tables ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidArgumentError),
        (413, InvalidArgumentError),
        (401, AuthenticationError),
        (404, NotFoundError),
        (500, CollectorUnavailableError),
        (503, CollectorUnavailableError),
        (302, RunlogError),
    ],
)
def test_error_for_maps_status_to_exception(status: int, error: type[Exception]) -> None:
    exc = error_for(status, "the collector's words", "http://127.0.0.1:4318")
    assert type(exc) is error
    assert "the collector's words" in str(exc)


def test_authentication_error_says_what_to_do() -> None:
    assert "RUNLOG_TOKEN" in str(error_for(401, "token missing", "http://x"))


RUN = {
    "run_id": "r1",
    "experiment": "e",
    "name": "n",
    "status": "Completed",
    "start_ns": 1_700_000_000_000_000_000,
    "end_ns": 1_700_000_001_000_000_000,
    "tags": {"selected": "yes"},
    "params": {"alpha": "0.5"},
    "metrics": [
        {"name": "mse", "column": "", "kind": "scalar", "last": 2.5},
        {"name": "Cos", "column": "cos", "kind": "row", "last": 0.1},
    ],
}


def test_run_row_flattens_scalar_metrics_params_and_tags() -> None:
    assert {
        "run_id": "r1",
        "experiment": "e",
        "name": "n",
        "status": "Completed",
        "start_time": RUN["start_ns"],
        "end_time": RUN["end_ns"],
        "metrics.mse": 2.5,
        "params.alpha": "0.5",
        "tags.selected": "yes",
    } == run_row(RUN)


def test_runs_to_pandas_has_one_row_per_run() -> None:
    pd = pytest.importorskip("pandas")
    frame = runs_to_pandas([RUN])
    assert ["r1"] == list(frame["run_id"])
    assert 2.5 == frame.loc[0, "metrics.mse"]
    assert pd.Timestamp(RUN["start_ns"], unit="ns", tz="UTC") == frame.loc[0, "start_time"]


def test_runs_to_pandas_of_nothing_has_the_base_columns() -> None:
    pytest.importorskip("pandas")
    assert ["run_id", "experiment", "name", "status", "start_time", "end_time"] == list(
        runs_to_pandas([]).columns
    )


@pytest.mark.parametrize("run_id", ["", "has space", "x" * 65, "../etc"])
def test_client_refuses_malformed_run_ids_before_asking(run_id: str) -> None:
    with (
        Client("http://127.0.0.1:9") as client,
        pytest.raises(InvalidArgumentError, match="runlog runs"),
    ):
        client.get_run(run_id)


def test_client_sends_bearer_token() -> None:
    """What goes over the wire, seen by a transport standing in for the network."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"status": "ok", "version": "0"})

    with Client(
        "http://collector.test", token="s3cret", transport=httpx.MockTransport(handler)
    ) as client:
        client.health()
    assert ["Bearer s3cret"] == seen


# --- a real collector -----------------------------------------------------------------------


def free_closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_collector_raises_collector_unavailable() -> None:
    with (
        Client(f"http://127.0.0.1:{free_closed_port()}", timeout=5) as client,
        pytest.raises(CollectorUnavailableError, match="runlog collector"),
    ):
        client.health()


def new_id() -> str:
    return uuid.uuid4().hex[:16]


@pytest.fixture
def client(collector: Any) -> Any:
    with Client(collector.endpoint) as c_:
        yield c_


def test_health(client: Client) -> None:
    assert "ok" == client.health()["status"]


def test_unknown_run_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        client.get_run("no-such-run-" + new_id())


def test_unknown_experiment_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        client.get_experiment("no-such-experiment-" + new_id())


def test_malformed_filter_is_invalid_argument(client: Client) -> None:
    with pytest.raises(InvalidArgumentError):
        client.search_runs(filter="metrics.mse <<< nonsense")


def test_round_trip_keeps_values_bit_exact(collector: Any, client: Client) -> None:
    run_id = new_id()
    values = [0.1, 1 / 3, math.inf, -math.inf, 5e-324, 1.7976931348623157e308]
    otlp.send(
        collector.endpoint,
        run_id,
        "client-exact",
        [otlp.point("x", v, step=i) for i, v in enumerate(values)]
        + [otlp.point("x", math.nan, step=99), otlp.point("big", 2**63 - 1)],
    )
    series = client.get_metric(run_id, "x")
    assert values == series.values[:-1]
    assert math.isnan(series.values[-1])
    assert [*range(len(values)), 99] == series.steps
    assert {"big": 2**63 - 1} == client.get_metrics(run_id, "big")


def test_get_metrics_shapes_every_kind(collector: Any, client: Client) -> None:
    run_id = new_id()
    records = [otlp.point("alpha", 0.03), otlp.point("note", "hello")]
    records += [otlp.point("sigmoid", 1 / (1 + math.exp(-i)), step=i) for i in range(-3, 3)]
    records += [otlp.point("acc", v, kind="list") for v in (0.6, 0.7, 0.87)]
    for angle in (0.0, 0.5):
        records += [
            otlp.point("Cos", angle, kind="row", column="angle"),
            otlp.point("Cos", math.cos(angle), kind="row", column="cos"),
        ]
    records.append(otlp.point("ROC", "images/ROC.png", kind="image"))
    otlp.send(collector.endpoint, run_id, "client-shapes", records)

    metrics = client.get_metrics(run_id)
    assert {
        "alpha": 0.03,
        "note": "hello",
        "sigmoid": [1 / (1 + math.exp(-i)) for i in range(-3, 3)],
        "acc": [0.6, 0.7, 0.87],
        "Cos": {"angle": [0.0, 0.5], "cos": [1.0, math.cos(0.5)]},
        "ROC": "images/ROC.png",
    } == metrics
    assert {"Cos": {"angle": [0.0, 0.5], "cos": [1.0, math.cos(0.5)]}} == client.get_metrics(
        run_id, "Cos"
    )


def test_get_metrics_of_unknown_name_is_not_found(collector: Any, client: Client) -> None:
    run_id = new_id()
    otlp.send(collector.endpoint, run_id, "client-shapes", [otlp.point("a", 1.0)])
    with pytest.raises(NotFoundError, match="runlog metrics"):
        client.get_metrics(run_id, "b")


def test_long_vectors_come_back_binary_and_equal_to_json(collector: Any, client: Client) -> None:
    run_id = new_id()
    values = [math.sin(i / 100) for i in range(6000)]
    otlp.send(collector.endpoint, run_id, "client-binary", [otlp.packed_f8("wave", values)])
    binary = client.get_metric(run_id, "wave")
    assert values == binary.values
    assert list(range(6000)) == binary.steps
    assert binary == client.get_metric(run_id, "wave", binary=False)
    assert values == client.get_metrics(run_id)["wave"]


def test_max_points_downsamples(collector: Any, client: Client) -> None:
    run_id = new_id()
    otlp.send(
        collector.endpoint,
        run_id,
        "client-binary",
        [otlp.packed_f8("wave", [float(i % 97) for i in range(10_000)])],
    )
    view = client.get_metric(run_id, "wave", max_points=200)
    assert len(view) <= 200
    assert view.downsampled


def test_search_runs_follows_pages_and_stops_at_max_results(collector: Any, client: Client) -> None:
    experiment = "client-pages-" + new_id()
    for i in range(5):
        otlp.send(collector.endpoint, new_id(), experiment, [otlp.point("mse", float(i))])
    client.page_size = 2
    assert 5 == len(client.search_runs(experiment))
    assert 3 == len(client.search_runs(experiment, max_results=3))
    assert 5 == client.get_experiment(experiment)["run_count"]


def test_filter_and_order_by(collector: Any, client: Client) -> None:
    experiment = "client-filter-" + new_id()
    for mse, alpha in ((3.0, "0.1"), (1.0, "0.2"), (2.0, "0.3")):
        otlp.send(
            collector.endpoint,
            new_id(),
            experiment,
            [otlp.point("mse", mse), otlp.key_value(c.EVENT_PARAM, "alpha", alpha)],
        )
    found = client.search_runs(
        [experiment], filter="metrics.mse < 2.5", order_by=["metrics.mse ASC"]
    )
    assert ["0.2", "0.3"] == [r["params"]["alpha"] for r in found]


def test_run_details_and_summaries(collector: Any, client: Client) -> None:
    run_id = new_id()
    otlp.send(
        collector.endpoint,
        run_id,
        "client-details",
        [
            otlp.key_value(c.EVENT_TAG, "selected", "yes"),
            otlp.point("mse", 2.0),
            otlp.point("mse", -math.inf),
            otlp.end(),
        ],
        name="nice name",
    )
    run = client.get_run(run_id)
    assert ("client-details", "nice name", "Completed", {"selected": "yes"}) == (
        run["experiment"],
        run["name"],
        run["status"],
        run["tags"],
    )
    [summary] = client.list_metrics(run_id)
    assert ("mse", 2, 2.0) == (summary["name"], summary["count"], summary["max"])


def test_upload_list_and_download(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = new_id()
    source = tmp_path / "model.pkl"
    source.write_bytes(b"\x00model" * 1000)
    client.upload_file(run_id, "outputs/model.pkl", source, experiment="client-files")
    client.upload_file(run_id, "notes/a.txt", b"hello")
    record = client.upload_file(run_id, "notes/b.txt", io.BytesIO(b"streamed"))
    assert ("notes/b.txt", 8) == (record["path"], record["size"])
    assert {"outputs/model.pkl", "notes/a.txt", "notes/b.txt"} == {
        f["path"] for f in client.list_files(run_id)
    }
    assert "client-files" == client.get_run(run_id)["experiment"]

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    assert str(tmp_path / "a.txt") == client.download_file(run_id, "notes/a.txt")
    assert str(out / "model.pkl") == client.download_file(run_id, "outputs/model.pkl", out)
    assert source.read_bytes() == (out / "model.pkl").read_bytes()
    named = client.download_file(run_id, "notes/b.txt", tmp_path / "deep" / "b.bin")
    assert b"streamed" == Path(named).read_bytes()


def test_download_of_unknown_file_is_not_found_and_leaves_nothing(
    client: Client, tmp_path: Path
) -> None:
    run_id = new_id()
    client.upload_file(run_id, "a.txt", b"x")
    with pytest.raises(NotFoundError):
        client.download_file(run_id, "missing.txt", tmp_path)
    assert [] == list(tmp_path.iterdir())


BAD_PATHS = [
    "../escape.txt",
    "a/../../b",
    "..",
    "./a",
    "/abs.txt",
    "a//b.txt",
    "a\\b.txt",
    "",
    "a/",
    "x" * 1025,
]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_client_refuses_file_paths_outside_the_run(path: str) -> None:
    with (
        Client("http://127.0.0.1:9") as client,
        pytest.raises(InvalidArgumentError, match="relative"),
    ):
        client.upload_file("r1", path, b"x")


def test_runs_to_pandas_from_the_collector(collector: Any, client: Client) -> None:
    pytest.importorskip("pandas")
    experiment = "client-pandas-" + new_id()
    otlp.send(
        collector.endpoint,
        new_id(),
        experiment,
        [otlp.point("mse", 2.0), otlp.key_value(c.EVENT_PARAM, "alpha", "0.5")],
    )
    frame = runs_to_pandas(client.search_runs(experiment))
    assert [2.0, "0.5"] == [frame.loc[0, "metrics.mse"], frame.loc[0, "params.alpha"]]


def test_list_experiments_includes_new_ones(collector: Any, client: Client) -> None:
    experiment = "client-list-" + new_id()
    otlp.send(collector.endpoint, new_id(), experiment, [otlp.point("m", 1.0)])
    names = [e["name"] for e in client.list_experiments()]
    assert experiment in names
    assert time.time_ns() >= client.get_experiment(experiment)["created_ns"]
