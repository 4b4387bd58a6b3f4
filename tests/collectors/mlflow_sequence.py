"""The MLflow call sequence of the differential check, and how its outcomes are normalized.

``mlflow_sequence(uri, work)`` drives the real ``mlflow`` package (fluent API and
``MlflowClient``, plus raw REST calls for limits, status codes and the charts' bulk-interval
history) against one tracking URI and returns ``{step: outcome}``: the value a call returned,
or the MLflow error code it raised. tests/collectors/test_mlflow_differential.py runs it
against a real ``mlflow server`` and against the collector and compares step by step.

Normalizing drops what legitimately differs between two servers: ids (replaced by labels such
as ``run:parent``, so a parent-run tag still has to point at the right run), server-side
timestamps (only "set or not" is kept), the random experiment-name prefix, the server's
working directory (relative artifact locations are made absolute against it), and order
where MLflow does not define one. Timestamps the client chose explicitly are compared
exactly. Steps marked ``message=True`` compare MLflow's error message too, where its
wording is a stable part of its API.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import mlflow
from mlflow import MlflowClient
from mlflow.entities import LoggedModelInput, LoggedModelOutput, Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

T0 = 1_700_000_000_000  # explicit metric timestamps (ms): client data, compared exactly
MISSING_RUN = "0" * 32
ABORTED = "!aborted"  # not a step: set-up calls that failed, cutting parts short
ID_FIELDS = {"experiment_id", "run_id", "mlflow.parentRunId", "model_id", "source_run_id"}


class Recorder:
    """Runs steps, records each outcome normalized; ids become stable labels."""

    def __init__(self, prefix: str, cwd: Path) -> None:
        self.prefix = prefix
        self.cwd = cwd.resolve().as_posix()
        self.labels: dict[str, str] = {}
        self.results: dict[str, Any] = {}
        self.aborted: list[str] = []
        self.timings: dict[str, float] = {}  # seconds per part (not compared)

    def label(self, raw_id: str | None, name: str) -> str | None:
        if raw_id:
            self.labels[str(raw_id)] = name
        return raw_id

    def step(self, name: str, action: Callable[[], Any], message: bool = False) -> Any:
        """Record ``action()``'s normalized value, or the error it raised; return the value.

        With *message*, an MLflow error's message is recorded too (normalized).
        """
        try:
            value = action()
        except MlflowException as exc:
            self.results[name] = {"error_code": exc.error_code}
            if message:
                self.results[name]["message"] = self.normalize(exc.message)
            return None
        except Exception as exc:  # any other failure is a difference to report, not a crash
            self.results[name] = {"exception": f"{type(exc).__name__}: {exc}"[:300]}
            return None
        # A bare string result that is an id (create_experiment) is labeled like an id field.
        self.results[name] = self.normalize(value, key="run_id")
        return value

    def normalize(self, value: Any, key: Any = None) -> Any:
        if isinstance(value, dict):
            return {self.normalize(k): self.normalize(v, k) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.normalize(v) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)  # NaN != NaN would make equal results compare unequal
        if isinstance(value, str):
            return self._replace_ids(value, exact=key in ID_FIELDS)
        return value

    def _replace_ids(self, text: str, exact: bool) -> str:
        if exact and text in self.labels:
            return f"<{self.labels[text]}>"
        text = text.replace(self.prefix, "P").replace(self.cwd, "CWD")
        if ":/" in text:  # a URI: drop scheme://host:port, label id path segments
            text = re.sub(r"^([\w+.-]+)://[^/]*", r"\1://HOST", text)
            parts = text.split("/")
            return "/".join(f"<{self.labels[s]}>" if s in self.labels else s for s in parts)
        for raw_id, name in self.labels.items():
            if len(raw_id) >= 16:  # run ids inside other text (tags, filters); never short ids
                text = text.replace(raw_id, f"<{name}>")
        return text


# --- views: what of an entity is compared ----------------------------------------------------
def experiment_view(exp: Any) -> dict[str, Any] | None:
    if exp is None:
        return None
    return {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "lifecycle_stage": exp.lifecycle_stage,
        "artifact_location": exp.artifact_location,
        "tags": dict(exp.tags),
    }


def run_view(run: Any) -> dict[str, Any]:
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "lifecycle_stage": info.lifecycle_stage,
        "user_id": info.user_id,
        "ended": info.end_time is not None,
        "artifact_uri": info.artifact_uri,
        "metrics": dict(run.data.metrics),
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
    }


def dataset() -> Any:
    import pandas as pd

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 0.0]})
    return mlflow.data.from_pandas(frame, name="train", targets="y")


def inputs_view(run: Any) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "name": d.dataset.name,
                "digest": d.dataset.digest,
                "source_type": d.dataset.source_type,
                "schema": d.dataset.schema,
                "profile": d.dataset.profile,
                "tags": {t.key: t.value for t in d.tags},
            }
            for d in run.inputs.dataset_inputs
        ),
        key=lambda d: d["name"],
    )


def history_view(metrics: list[Any]) -> list[tuple[Any, ...]]:
    # MLflow defines no order for a metric's history: compare it sorted.
    rows = [(m.key, m.step, m.timestamp, m.value) for m in metrics]
    return sorted(rows, key=lambda r: (r[1], r[2], repr(r[3])))


def names(runs: list[Any]) -> list[str]:
    return [r.info.run_name for r in runs]


def artifact_view(infos: list[Any]) -> list[tuple[str, bool, int | None]]:
    return sorted((f.path, f.is_dir, f.file_size) for f in infos)


def tree_digest(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root``."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- the sequence ---------------------------------------------------------------------------
def reset_mlflow(uri: str | None) -> None:
    """Forget the fluent API's global state (active runs, experiment, active model) and point
    it at ``uri``."""
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.clear_active_model()
    mlflow.tracking.fluent._active_experiment_id = None
    mlflow.tracking.fluent._last_active_run_id.set(None)
    mlflow.set_tracking_uri(uri)


def make_sources(root: Path) -> Path:
    """Files to upload: binary, text, an empty file and a nested folder."""
    rnd = hashlib.sha256(b"runlog").digest() * 2048  # 64 KiB, deterministic
    (root / "outputs" / "sub").mkdir(parents=True)
    (root / "model.pkl").write_bytes(rnd)
    (root / "notes.txt").write_text("alpha=0.03\nünïcode ✓\n", encoding="utf-8")
    (root / "outputs" / "a.txt").write_text("a\n")
    (root / "outputs" / "empty.txt").write_bytes(b"")
    (root / "outputs" / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40)
    return root


def mlflow_sequence(uri: str, work: Path, cwd: Path) -> dict[str, Any]:
    """Run the whole MLflow call sequence against ``uri``; return ``{step: outcome}``.

    *cwd* is the server's working directory (it resolves relative artifact locations).
    The sequence starts on a fresh server (no experiment created yet).
    """
    rec = Recorder(f"diff{uuid.uuid4().hex[:10]}", cwd)
    client = MlflowClient(tracking_uri=uri)
    reset_mlflow(uri)
    sources = make_sources(work / "sources")
    ids: dict[str, str] = {}
    runs: dict[str, str] = {}
    parts: list[tuple[str, Callable[[], Any]]] = [
        ("fresh", lambda: fresh_part(rec, client)),
        ("experiments", lambda: ids.update(experiments_part(rec, client))),
        ("runs", lambda: runs.update(runs_part(rec, client, ids["main"], sources, work))),
        ("search", lambda: search_part(rec, client, runs)),
        ("lifecycle", lambda: lifecycle_part(rec, client, ids, runs)),
        ("errors", lambda: errors_part(rec, client, runs)),
        ("rest", lambda: rest_part(rec, uri, runs)),
        ("details", lambda: details_part(rec, client, uri, runs, sources, work)),
        ("logged_models", lambda: ids.update(logged_models_part(rec, client, work))),
        ("registry", lambda: registry_part(rec, client, ids, work)),
        ("suite", lambda: suite_part(rec, client, uri, runs)),
    ]
    for name, part in parts:
        started = time.perf_counter()
        try:
            part()
        except Exception as exc:  # an unrecorded set-up call failed: the part's later steps
            rec.aborted.append(f"{name} part aborted: {type(exc).__name__}: {exc}"[:300])
        rec.timings[name] = time.perf_counter() - started
    with contextlib.suppress(Exception):
        reset_mlflow(uri)
    print(f"mlflow sequence against {uri}:", {k: round(v, 1) for k, v in rec.timings.items()})
    return rec.results | {ABORTED: rec.aborted}


def experiments_part(rec: Recorder, client: MlflowClient) -> dict[str, str]:
    p = rec.prefix
    # Labeled inside the step, so the recorded id is the label whatever ids the server has.
    main = rec.step(
        "create_experiment",
        lambda: rec.label(
            client.create_experiment(f"{p}-main", tags={"team": "vision"}), "exp:main"
        ),
    )
    rec.step("get_experiment", lambda: experiment_view(client.get_experiment(main)))
    rec.step(
        "get_experiment_by_name",
        lambda: experiment_view(client.get_experiment_by_name(f"{p}-main")),
    )
    rec.step("set_experiment_tag", lambda: client.set_experiment_tag(main, "phase", "tuning"))
    rec.step("get_experiment.tags", lambda: dict(client.get_experiment(main).tags))
    rec.step("delete_experiment_tag", lambda: client.delete_experiment_tag(main, "phase"))
    rec.step("delete_experiment_tag.get", lambda: dict(client.get_experiment(main).tags))
    rec.step(
        "delete_experiment_tag.missing", lambda: client.delete_experiment_tag(main, "never-set")
    )
    rec.step("set_experiment_tag.back", lambda: client.set_experiment_tag(main, "phase", "tuning"))
    other = rec.label(client.create_experiment(f"{p}-other"), "exp:other")
    search = rec.label(client.create_experiment(f"{p}-search", tags={"team": "nlp"}), "exp:search")
    return {"main": main, "other": other, "search": search}


def runs_part(
    rec: Recorder, client: MlflowClient, main: str, sources: Path, work: Path
) -> dict[str, str]:
    p = rec.prefix
    rec.step("set_experiment", lambda: experiment_view(mlflow.set_experiment(f"{p}-main")))
    with mlflow.start_run(run_name="parent", tags={"purpose": "diff"}) as parent:
        pid = rec.label(parent.info.run_id, "run:parent")
        rec.step("start_run", lambda: run_view(client.get_run(pid)))
        rec.step("log_param", lambda: mlflow.log_param("alpha", 0.03))
        rec.step(
            "log_params",
            lambda: mlflow.log_params({"layers": 3, "act": "relu", "opt.name": "adam"}),
        )
        rec.step("log_param.same_value", lambda: mlflow.log_param("alpha", 0.03))
        rec.step("log_param.changed_value", lambda: mlflow.log_param("alpha", 0.05))
        for step in range(5):
            mlflow.log_metric("loss", 1 / (step + 1), step=step, timestamp=T0 + step)
        mlflow.log_metrics({"acc": 0.5, "f1": 0.25}, step=0, timestamp=T0)
        batch = [Metric("loss", 0.1 * i, T0 + 100 + i, 5 + i) for i in range(20)]
        batch += [Metric("loss", 9.0, T0 + 2, 2), Metric("edge", math.nan, T0, 0)]
        batch += [Metric("edge", math.inf, T0 + 1, 1), Metric("edge", -math.inf, T0 + 2, 2)]
        rec.step(
            "log_batch",
            lambda: client.log_batch(
                pid, metrics=batch, params=[Param("batch_size", "32")], tags=[RunTag("bt", "yes")]
            ),
        )
        rec.step("set_tag", lambda: mlflow.set_tags({"temp": "1", "keep": "me"}))
        rec.step("delete_tag", lambda: client.delete_tag(pid, "temp"))
        rec.step("delete_tag.missing", lambda: client.delete_tag(pid, "never-set"))
        with mlflow.start_run(run_name="child", nested=True) as child:
            cid = rec.label(child.info.run_id, "run:child")
            mlflow.log_metric("child_loss", 0.125, step=0, timestamp=T0)
            mlflow.log_param("seed", 7)
        rec.step("child.get_run", lambda: run_view(client.get_run(cid)))
        rec.step("log_input", lambda: mlflow.log_input(dataset(), "training", {"split": "a"}))
        rec.step("log_input.get_run", lambda: inputs_view(client.get_run(pid)))
        artifacts_part(rec, client, pid, sources, work)
    rec.step("end_run.get_run", lambda: run_view(client.get_run(pid)))
    rec.step(
        "get_metric_history.loss", lambda: history_view(client.get_metric_history(pid, "loss"))
    )
    rec.step(
        "get_metric_history.edge", lambda: history_view(client.get_metric_history(pid, "edge"))
    )
    rec.step("get_metric_history.unlogged", lambda: client.get_metric_history(pid, "nope"))
    rec.step("update_run", lambda: client.update_run(cid, status="KILLED", name="child-renamed"))
    rec.step("update_run.get_run", lambda: run_view(client.get_run(cid)))
    manual = client.create_run(main, run_name="manual", tags={"kind": "manual"}).info.run_id
    rec.label(manual, "run:manual")
    rec.step("set_terminated", lambda: client.set_terminated(manual, "FAILED"))
    rec.step("set_terminated.get_run", lambda: run_view(client.get_run(manual)))
    rec.step("resume_run", lambda: resume(manual))
    rec.step("resume_run.get_run", lambda: run_view(client.get_run(manual)))
    return {"parent": pid, "child": cid, "manual": manual}


def resume(run_id: str) -> str:
    """``start_run(run_id=...)`` reopens a finished run; leaving the block finishes it again."""
    with mlflow.start_run(run_id=run_id) as run:
        mlflow.log_metric("resumed", 1.0, step=0, timestamp=T0)
        return str(mlflow.get_run(run.info.run_id).info.status)


def artifacts_part(
    rec: Recorder, client: MlflowClient, run_id: str, sources: Path, work: Path
) -> None:
    rec.step("log_artifact", lambda: mlflow.log_artifact(str(sources / "model.pkl")))
    rec.step("log_artifact.path", lambda: mlflow.log_artifact(str(sources / "notes.txt"), "docs"))
    rec.step("log_artifacts", lambda: mlflow.log_artifacts(str(sources / "outputs"), "outputs"))
    rec.step("log_text", lambda: mlflow.log_text("hello\n", "texts/hello.txt"))
    rec.step("log_dict", lambda: mlflow.log_dict({"a": 1, "b": [1, 2]}, "cfg/config.json"))
    rec.step("list_artifacts.root", lambda: artifact_view(client.list_artifacts(run_id)))
    rec.step(
        "list_artifacts.outputs", lambda: artifact_view(client.list_artifacts(run_id, "outputs"))
    )
    rec.step(
        "list_artifacts.nested", lambda: artifact_view(client.list_artifacts(run_id, "outputs/sub"))
    )
    rec.step(
        "list_artifacts.missing", lambda: artifact_view(client.list_artifacts(run_id, "nothing"))
    )
    rec.step(
        "download_artifacts.all",
        lambda: tree_digest(Path(client.download_artifacts(run_id, "", str(work / "dl-all")))),
    )
    rec.step(
        "download_artifacts.file",
        lambda: tree_digest(
            Path(client.download_artifacts(run_id, "model.pkl", str(work / "dl-one"))).parent
        ),
    )
    rec.step(
        "download_artifacts.dir",
        lambda: tree_digest(
            Path(client.download_artifacts(run_id, "outputs", str(work / "dl-dir")))
        ),
    )
    rec.step("load_text", lambda: mlflow.artifacts.load_text(f"runs:/{run_id}/texts/hello.txt"))


def search_part(rec: Recorder, client: MlflowClient, runs: dict[str, str]) -> None:
    exp = client.get_experiment_by_name(f"{rec.prefix}-search").experiment_id
    for i in range(6):
        run = client.create_run(exp, run_name=f"r{i}", tags={"t": "even" if i % 2 == 0 else "odd"})
        runs[f"r{i}"] = rec.label(run.info.run_id, f"run:r{i}") or ""
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("x", float(i), T0, 0)],
            params=[Param("p", "a" if i % 3 == 0 else "b")],
        )
        if i < 5:
            client.set_terminated(run.info.run_id, "FINISHED")
    client.create_run(exp, run_name="nox")

    def search(
        filter_string: str = "", order_by: list[str] | None = None, sort: bool = True
    ) -> list[str]:
        found = names(client.search_runs([exp], filter_string, order_by=order_by))
        return sorted(found) if sort else found

    rec.step("search_runs.all", lambda: search())
    rec.step("search_runs.metric_lt", lambda: search("metrics.x < 2.5"))
    rec.step("search_runs.param_eq", lambda: search("params.p = 'a'"))
    rec.step("search_runs.tag_eq", lambda: search("tags.t = 'even'"))
    rec.step("search_runs.tag_ne", lambda: search("tags.t != 'even'"))
    rec.step("search_runs.run_name", lambda: search("attributes.run_name = 'r1'"))
    rec.step("search_runs.run_name_like", lambda: search("attributes.run_name LIKE 'r%'"))
    rec.step("search_runs.status", lambda: search("attributes.status = 'RUNNING'"))
    rec.step("search_runs.and", lambda: search("metrics.x >= 1 and params.p = 'b'"))
    rec.step(
        "search_runs.order_metric_desc", lambda: search(order_by=["metrics.x DESC"], sort=False)
    )
    rec.step(
        "search_runs.order_metric_asc", lambda: search("metrics.x > 0", ["metrics.x ASC"], False)
    )
    rec.step(
        "search_runs.order_name", lambda: search(order_by=["attributes.run_name DESC"], sort=False)
    )
    rec.step("search_runs.paging", lambda: pages(client, exp))
    r1, r2 = runs["r1"], runs["r2"]
    more_filters = {
        "search_runs.metric_eq": "metrics.x = 3",
        "search_runs.metric_range": "metrics.x >= 2 and metrics.x <= 4",
        "search_runs.param_ne": "params.p != 'a'",
        "search_runs.ilike": "attributes.run_name ILIKE 'R%'",
        "search_runs.backticks": "tags.`mlflow.runName` = 'r2'",
        "search_runs.status_ne": "attributes.status != 'FINISHED'",
        "search_runs.run_id_in": f"attributes.run_id IN ('{r1}', '{r2}')",
        "search_runs.tag_in": "tags.t IN ('odd', 'none')",
        "search_runs.param_not_in": "params.p NOT IN ('a')",
        "search_runs.tag_is_null": "tags.t IS NULL",
    }
    for name, filter_string in more_filters.items():
        rec.step(name, lambda f=filter_string: search(f))
    rec.step(
        "search_runs.order_two_keys",
        lambda: search(order_by=["params.p ASC", "attributes.run_name DESC"], sort=False),
    )
    rec.step("search_runs.bad_filter", lambda: search("metrics.x <> 1"))
    rec.step("search_runs.bad_order_by", lambda: search(order_by=["metrics.x SIDEWAYS"]))
    rec.step(
        "search_runs.parent",
        lambda: names(
            client.search_runs(
                [client.get_run(runs["parent"]).info.experiment_id],
                f"tags.mlflow.parentRunId = '{runs['parent']}'",
            )
        ),
    )
    rec.step("search_runs.fluent", lambda: fluent_frame(f"{rec.prefix}-search"))


def pages(client: MlflowClient, exp: str) -> list[list[str]]:
    out, token = [], None
    while True:
        page = client.search_runs(
            [exp], "metrics.x >= 0", max_results=2, order_by=["metrics.x ASC"], page_token=token
        )
        out.append(names(page))
        token = page.token
        if not token or len(out) > 10:
            return out


def fluent_frame(experiment_name: str) -> dict[str, Any]:
    frame = mlflow.search_runs(experiment_names=[experiment_name], filter_string="metrics.x > 2")
    rows = frame[["tags.mlflow.runName", "metrics.x", "params.p", "status"]].to_dict("records")
    return {
        "columns": sorted(frame.columns),
        "rows": sorted(rows, key=lambda r: r["tags.mlflow.runName"]),
    }


def lifecycle_part(
    rec: Recorder, client: MlflowClient, ids: dict[str, str], runs: dict[str, str]
) -> None:
    p, search_exp, r0 = rec.prefix, [ids["search"]], runs["r0"]
    rec.step("delete_run", lambda: client.delete_run(r0))
    rec.step("delete_run.get_run", lambda: client.get_run(r0).info.lifecycle_stage)
    rec.step("set_tag.deleted_run", lambda: client.set_tag(r0, "late", "1"))
    rec.step("log_metric.deleted_run", lambda: client.log_metric(r0, "late", 1.0))
    rec.step("update_run.deleted_run", lambda: client.update_run(r0, status="KILLED"))
    rec.step(
        "search_runs.deleted_only",
        lambda: names(client.search_runs(search_exp, run_view_type=ViewType.DELETED_ONLY)),
    )
    rec.step("search_runs.active_only", lambda: sorted(names(client.search_runs(search_exp))))
    rec.step("restore_run", lambda: client.restore_run(r0))
    rec.step("restore_run.get_run", lambda: client.get_run(r0).info.lifecycle_stage)
    rec.step("rename_experiment", lambda: client.rename_experiment(ids["other"], f"{p}-renamed"))
    rec.step("rename_experiment.get", lambda: experiment_view(client.get_experiment(ids["other"])))
    rec.step("rename_experiment.old_name", lambda: client.get_experiment_by_name(f"{p}-other"))

    def search_exps(view: int = ViewType.ACTIVE_ONLY, filter_string: str = "") -> list[str]:
        found = client.search_experiments(
            view, filter_string=f"name LIKE '{p}%' {filter_string}", order_by=["name ASC"]
        )
        return [e.name for e in found]

    rec.step("search_experiments", lambda: search_exps())
    rec.step(
        "search_experiments.tag", lambda: search_exps(filter_string="and tags.team = 'vision'")
    )
    rec.step("search_experiments.paging", lambda: experiment_pages(client, p))
    rec.step("delete_experiment", lambda: client.delete_experiment(ids["other"]))
    rec.step("delete_experiment.get", lambda: experiment_view(client.get_experiment(ids["other"])))
    rec.step("search_experiments.active_only", lambda: search_exps())
    rec.step("search_experiments.deleted_only", lambda: search_exps(ViewType.DELETED_ONLY))
    rec.step("search_experiments.all", lambda: search_exps(ViewType.ALL))
    rec.step("create_run.deleted_experiment", lambda: client.create_run(ids["other"]))
    rec.step(
        "set_experiment_tag.deleted_experiment",
        lambda: client.set_experiment_tag(ids["other"], "late", "1"),
    )
    rec.step(
        "rename_experiment.deleted_experiment",
        lambda: client.rename_experiment(ids["other"], f"{p}-late"),
    )
    rec.step("restore_experiment", lambda: client.restore_experiment(ids["other"]))
    rec.step("restore_experiment.get", lambda: experiment_view(client.get_experiment(ids["other"])))


def experiment_pages(client: MlflowClient, prefix: str) -> list[list[str]]:
    out, token = [], None
    while len(out) < 10:
        page = client.search_experiments(
            max_results=2,
            filter_string=f"name LIKE '{prefix}%'",
            order_by=["name DESC"],
            page_token=token,
        )
        out.append([e.name for e in page])
        token = page.token
        if not token:
            break
    return out


def errors_part(rec: Recorder, client: MlflowClient, runs: dict[str, str]) -> None:
    p = rec.prefix
    rec.step("get_run.unknown", lambda: client.get_run(MISSING_RUN))
    rec.step("get_experiment.unknown", lambda: client.get_experiment("987654321"))
    rec.step("get_experiment_by_name.unknown", lambda: client.get_experiment_by_name(f"{p}-nope"))
    rec.step("create_experiment.empty_name", lambda: client.create_experiment(""))
    rec.step("create_experiment.duplicate", lambda: client.create_experiment(f"{p}-main"))
    rec.step("log_metric.unknown_run", lambda: client.log_metric(MISSING_RUN, "x", 1.0))
    rec.step(
        "log_batch.bad_metric_name",
        lambda: client.log_batch(runs["manual"], metrics=[Metric("bad*name", 1.0, T0, 0)]),
    )
    rec.step(
        "log_param.changed_value.client", lambda: client.log_param(runs["parent"], "alpha", "0.9")
    )


def rest_part(rec: Recorder, uri: str, runs: dict[str, str]) -> None:
    """Raw REST: limits, status codes and error JSON, and the charts' bulk-interval history."""
    api = httpx.Client(base_url=uri, timeout=30)
    rec.step("rest.get_run.unknown", lambda: rest_call(api, "runs/get", {"run_id": MISSING_RUN}))
    for name, (path, payload) in rest_posts(runs["parent"], runs["manual"]).items():
        rec.step(name, lambda u=path, p=payload: rest_call(api, u, p, post=True))
    rec.step("rest.too_long.stored", lambda: stored_lengths(uri, runs["manual"]))
    rec.step("rest.get_history.paged", lambda: history_pages(api, runs["parent"]))
    rec.step("rest.bulk_interval", lambda: bulk_interval(api, runs["parent"]))


def rest_posts(parent: str, run: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Step name -> (endpoint, JSON body) of raw POSTs that test limits and errors."""
    metric = {"key": "m", "value": 1.0, "timestamp": T0, "step": 0}
    many_params = [{"key": f"k{i}", "value": "v"} for i in range(101)]
    return {
        "rest.log_parameter.changed": (
            "runs/log-parameter",
            {"run_id": parent, "key": "alpha", "value": "1"},
        ),
        "rest.log_parameter.too_long": (
            "runs/log-parameter",
            {"run_id": run, "key": "long", "value": "x" * 6001},
        ),
        "rest.set_tag.too_long": (
            "runs/set-tag",
            {"run_id": run, "key": "long", "value": "y" * 8001},
        ),
        "rest.log_batch.too_long": (
            "runs/log-batch",
            {
                "run_id": run,
                "params": [{"key": "long_batch", "value": "p" * 6500}],
                "tags": [{"key": "long_batch", "value": "t" * 9000}],
            },
        ),
        "rest.create_experiment.no_name": ("experiments/create", {}),
        "rest.log_batch.too_many_metrics": (
            "runs/log-batch",
            {"run_id": run, "metrics": [metric] * 1001},
        ),
        "rest.log_batch.too_many_params": (
            "runs/log-batch",
            {"run_id": run, "params": many_params},
        ),
        "rest.log_metric.no_value": (
            "runs/log-metric",
            {"run_id": run, "key": "m", "timestamp": T0},
        ),
        "rest.search_runs.bad_token": (
            "runs/search",
            {"experiment_ids": ["0"], "page_token": "nope"},
        ),
        "rest.search_runs.too_many_results": (
            "runs/search",
            {"experiment_ids": ["0"], "max_results": 50001},
        ),
    }


def stored_lengths(uri: str, run_id: str) -> dict[str, int]:
    """How much of the over-long param and tag values the server kept."""
    data = MlflowClient(tracking_uri=uri).get_run(run_id).data
    return {
        f"{kind}.{key}": len(values.get(key, ""))
        for kind, values in (("param", data.params), ("tag", data.tags))
        for key in ("long", "long_batch")
    }


def rest_call(api: httpx.Client, path: str, payload: dict[str, Any], post: bool = False) -> Any:
    """Status and MLflow error code of one raw call (GET: query string, POST: JSON body)."""
    url = f"/api/2.0/mlflow/{path}"
    response = api.post(url, json=payload) if post else api.get(url, params=payload)
    body = response.json() if response.content else {}
    return {"status": response.status_code, "error_code": body.get("error_code")}


def history_pages(api: httpx.Client, run_id: str) -> list[int]:
    sizes, token = [], None
    while len(sizes) < 20:
        params = {"run_id": run_id, "metric_key": "loss", "max_results": 10} | (
            {"page_token": token} if token else {}
        )
        body = (
            api.get("/api/2.0/mlflow/metrics/get-history", params=params).raise_for_status().json()
        )
        sizes.append(len(body.get("metrics", [])))
        token = body.get("next_page_token")
        if not token:
            break
    return sizes


def bulk_interval(api: httpx.Client, run_id: str) -> Any:
    params = {
        "run_ids": run_id,
        "metric_key": "loss",
        "start_step": 0,
        "end_step": 30,
        "max_results": 50,
    }
    body = (
        api.get("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval", params=params)
        .raise_for_status()
        .json()
    )
    return sorted(
        (m["step"], m["value"], m["timestamp"], m["run_id"]) for m in body.get("metrics", [])
    )


# --- a fresh server, and the details MLflow's own tests check ---------------------------------
def fresh_part(rec: Recorder, client: MlflowClient) -> None:
    """Before anything is created: mlflow server always lists the Default experiment."""
    rec.step(
        "fresh.search_experiments",
        lambda: [e.name for e in client.search_experiments(filter_string="name = 'Default'")],
    )


def details_part(
    rec: Recorder,
    client: MlflowClient,
    uri: str,
    runs: dict[str, str],
    sources: Path,
    work: Path,
) -> None:
    api = httpx.Client(base_url=uri, timeout=30)
    parent = runs["parent"]
    for name, path in (("parent", "../x"), ("absolute", "/etc"), ("dot", ".")):
        rec.step(
            f"details.artifacts_list.{name}",
            lambda p=path: rest_message(api, "artifacts/list", {"run_id": parent, "path": p}),
        )
    rec.step(
        "details.list_artifacts.dot", lambda: artifact_view(client.list_artifacts(parent, "."))
    )
    rec.step(
        "details.download_artifacts.dot",
        lambda: tree_digest(Path(client.download_artifacts(parent, ".", str(work / "dl-dot")))),
    )
    locations_part(rec, client, sources, work)
    metric = {"key": "m", "value": 1.0, "step": 0}
    rec.step(
        "details.log_batch.no_timestamp",
        lambda: rest_message(
            api, "runs/log-batch", {"run_id": runs["manual"], "metrics": [metric]}, post=True
        ),
    )
    for name, key in (("parent_dir", "../up"), ("inner", "a/../b"), ("dots", ".."), ("bad", "a*b")):
        rec.step(
            f"details.log_metric.{name}",
            lambda k=key: client.log_metric(runs["manual"], k, 1.0),
            message=True,
        )
    rec.step(
        "details.log_param.bad_key",
        lambda: client.log_param(runs["manual"], "bad*key", "1"),
        message=True,
    )
    rec.step(
        "details.set_tag.bad_key",
        lambda: client.set_tag(runs["manual"], "../tag", "1"),
        message=True,
    )
    rec.step(
        "details.log_param.changed",
        lambda: client.log_param(runs["parent"], "alpha", "0.5"),
        message=True,
    )
    rec.step("details.create_experiment.empty", lambda: client.create_experiment(""), message=True)
    rec.step(
        "details.bulk_interval.empty_key",
        lambda: rest_message(
            api,
            "metrics/get-history-bulk-interval",
            {"run_ids": MISSING_RUN, "metric_key": ""},
        ),
    )
    inputs_order(rec, client)
    latest_metric(rec, client)


def rest_message(
    api: httpx.Client, path: str, payload: dict[str, Any], post: bool = False
) -> dict[str, Any]:
    """Status, error code and message of one raw call."""
    url = f"/api/2.0/mlflow/{path}"
    response = api.post(url, json=payload) if post else api.get(url, params=payload)
    body = response.json() if response.content else {}
    out = {"status": response.status_code, "error_code": body.get("error_code")}
    if "message" in body:
        out["message"] = body["message"]
    elif response.is_success:
        out["body"] = sorted(body)
    return out


def locations_part(rec: Recorder, client: MlflowClient, sources: Path, work: Path) -> None:
    """An experiment's artifact_location is honoured (and a relative one made absolute)."""
    p = rec.prefix
    for name, location in (
        ("relative", f"{p}-relative/loc"),
        ("proxied", f"mlflow-artifacts:/{p}-custom/prefix"),
    ):
        exp = rec.label(
            client.create_experiment(f"{p}-{name}-location", artifact_location=location),
            f"exp:{name}-location",
        )
        rec.step(
            f"details.location.{name}", lambda e=exp: client.get_experiment(e).artifact_location
        )
        run = client.create_run(exp).info.run_id
        rec.label(run, f"run:{name}-location")
        rec.step(f"details.location.{name}.run", lambda r=run: client.get_run(r).info.artifact_uri)
    proxied = client.search_runs(
        [client.get_experiment_by_name(f"{p}-proxied-location").experiment_id]
    )[0]
    run_id = proxied.info.run_id
    client.log_artifact(run_id, str(sources / "notes.txt"), "docs")
    rec.step(
        "details.location.proxied.list",
        lambda: artifact_view(client.list_artifacts(run_id, "docs")),
    )
    rec.step(
        "details.location.proxied.download",
        lambda: tree_digest(Path(client.download_artifacts(run_id, "docs", str(work / "dl-loc")))),
    )


def inputs_order(rec: Recorder, client: MlflowClient) -> None:
    """Dataset inputs come back in the order they were logged."""
    import pandas as pd

    run = client.create_run(client.get_experiment_by_name(f"{rec.prefix}-main").experiment_id)
    rec.label(run.info.run_id, "run:inputs")
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with mlflow.start_run(run_id=run.info.run_id):
        for name in ("charlie", "alpha", "bravo"):
            mlflow.log_input(mlflow.data.from_pandas(frame, name=name), "training")
    rec.step(
        "details.inputs.order",
        lambda: [d.dataset.name for d in client.get_run(run.info.run_id).inputs.dataset_inputs],
    )


def latest_metric(rec: Recorder, client: MlflowClient) -> None:
    """The latest value: the highest step, then the newest timestamp, then the larger value
    (whatever the order in which the points were logged); +-inf is clamped."""
    run = client.create_run(client.get_experiment_by_name(f"{rec.prefix}-main").experiment_id)
    run_id = rec.label(run.info.run_id, "run:latest") or ""
    points = [
        ("step", 7.0, T0 + 50, 1),
        ("step", 5.0, T0, 3),
        ("time", 1.0, T0 + 9, 2),
        ("time", 2.0, T0 + 1, 2),
        ("value", 8.0, T0, 4),
        ("value", 2.0, T0, 4),
        ("inf", math.inf, T0, 0),
    ]
    for key, value, timestamp, step in points:
        client.log_metric(run_id, key, value, timestamp, step)
    rec.step("details.latest_metric", lambda: dict(client.get_run(run_id).data.metrics))


# --- MLflow 3 logged models ----------------------------------------------------------------
def sklearn_model() -> tuple[Any, Any]:
    """A tiny fitted LinearRegression and the input it is scored on."""
    import numpy as np
    from sklearn.linear_model import LinearRegression

    x = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 3.0], [3.0, 5.0]])
    return LinearRegression().fit(x, x @ np.array([1.0, 2.0]) + 1.0), x


def logged_model_view(model: Any) -> dict[str, Any]:
    metrics = [
        (m.key, m.value, m.step, m.timestamp, m.run_id, m.dataset_name, m.dataset_digest)
        for m in model.metrics or []
    ]
    return {
        "model_id": model.model_id,
        "name": model.name,
        "experiment_id": model.experiment_id,
        "source_run_id": model.source_run_id,
        "model_type": model.model_type,
        "status": str(model.status),
        "artifact_location": model.artifact_location,
        "tags": dict(model.tags),
        "params": dict(model.params),
        "metrics": sorted(metrics, key=repr),
        "timestamps_set": bool(model.creation_timestamp and model.last_updated_timestamp),
    }


def model_names(models: Any) -> list[str]:
    return [m.name for m in models]


def logged_models_part(rec: Recorder, client: MlflowClient, work: Path) -> dict[str, str]:
    p = rec.prefix
    exp = rec.label(client.create_experiment(f"{p}-models"), "exp:models") or ""
    mlflow.set_experiment(experiment_id=exp)
    init = rec.step(
        "models.initialize",
        lambda: logged_model_view(
            labeled_model(
                rec,
                mlflow.initialize_logged_model(
                    name="init", model_type="agent", tags={"t": "1"}, params={"p": "a"}
                ),
                "model:init",
            )
        ),
    )
    init_id = next(k for k, v in rec.labels.items() if v == "model:init") if init else ""
    rec.step(
        "models.external",
        lambda: logged_model_view(
            labeled_model(
                rec, mlflow.create_external_model(name="ext", params={"p": "b"}), "model:ext"
            )
        ),
    )
    ext_id = next((k for k, v in rec.labels.items() if v == "model:ext"), "")
    rec.step("models.active.set", lambda: mlflow.set_active_model(name="ext").model_id)
    rec.step("models.active.get", mlflow.get_active_model_id)
    rec.step("models.active.thread", lambda: active_model_in_thread())
    rec.step(
        "models.active.clear",
        lambda: (mlflow.clear_active_model(), mlflow.get_active_model_id())[1],
    )
    rec.step(
        "models.active.new",
        lambda: (
            labeled_model(
                rec,
                client.get_logged_model(mlflow.set_active_model(name="fresh").model_id),
                "model:fresh",
            ).name
        ),
    )
    mlflow.clear_active_model()
    rec.step("models.finalize", lambda: str(client.finalize_logged_model(init_id, "READY").status))
    rec.step("models.log_params", lambda: client.log_model_params(init_id, {"q": "c"}))
    rec.step("models.set_tags", lambda: client.set_logged_model_tags(init_id, {"u": "2", "v": "3"}))
    rec.step("models.delete_tag", lambda: client.delete_logged_model_tag(init_id, "v"))
    rec.step(
        "models.delete_tag.missing",
        lambda: client.delete_logged_model_tag(init_id, "nope"),
        message=True,
    )
    with mlflow.start_run() as run:
        rec.label(run.info.run_id, "run:models")
        mlflow.log_metrics({"acc": 0.75, "loss": 0.5}, step=1, timestamp=T0, model_id=init_id)
        mlflow.log_metric("acc", 0.25, step=1, timestamp=T0, model_id=ext_id)
        rec.step(
            "models.log_outputs",
            lambda: client.log_outputs(run.info.run_id, [LoggedModelOutput(init_id, step=1)]),
        )
    rec.step("models.get", lambda: logged_model_view(client.get_logged_model(init_id)))
    rec.step(
        "models.run_outputs",
        lambda: [
            (o.model_id, o.step) for o in client.get_run(run.info.run_id).outputs.model_outputs
        ],
    )
    rec.step(
        "models.run_history",
        lambda: history_view(client.get_metric_history(run.info.run_id, "acc")),
    )
    model, x = sklearn_model()
    rec.step(
        "models.log_model.no_run",
        lambda: (
            labeled_model(
                rec,
                client.get_logged_model(
                    mlflow.sklearn.log_model(
                        model, name="skl", pip_requirements=["scikit-learn"]
                    ).model_id
                ),
                "model:skl",
            ).name
        ),
    )
    skl_id = next((k for k, v in rec.labels.items() if v == "model:skl"), "")
    rec.step("models.last_logged_model", lambda: logged_model_view(mlflow.last_logged_model()))
    rec.step("models.artifacts", lambda: artifact_view(client.list_logged_model_artifacts(skl_id)))
    rec.step(
        "models.download",
        lambda: sorted(
            tree_digest(
                Path(
                    mlflow.artifacts.download_artifacts(
                        f"models:/{skl_id}", dst_path=str(work / "dl-model")
                    )
                )
            )
        ),
    )
    rec.step(
        "models.load", lambda: mlflow.sklearn.load_model(f"models:/{skl_id}").predict(x).tolist()
    )
    search_models(rec, client, exp, init_id, ext_id)
    rec.step("models.delete", lambda: client.delete_logged_model(ext_id))
    rec.step("models.get.deleted", lambda: client.get_logged_model(ext_id), message=True)
    rec.step("models.get.unknown", lambda: client.get_logged_model("m-" + "0" * 32), message=True)
    return {"models": exp, "init": init_id, "skl": skl_id, "models_run": run.info.run_id}


def labeled_model(rec: Recorder, model: Any, label: str) -> Any:
    rec.label(model.model_id, label)
    return model


def active_model_in_thread() -> list[str | None]:
    """The active model is per thread; MLflow finds another thread's when only one is set."""
    seen: list[str | None] = []
    thread = threading.Thread(target=lambda: seen.append(mlflow.get_active_model_id()))
    thread.start()
    thread.join()
    from mlflow.tracking.fluent import _get_active_model_id_global

    return [*seen, _get_active_model_id_global()]


def search_models(rec: Recorder, client: MlflowClient, exp: str, init_id: str, ext_id: str) -> None:
    searches = {
        "all": {},
        "name": {"filter_string": "name = 'ext'"},
        "model_id_in": {"filter_string": f"model_id IN ('{init_id}', '{ext_id}')"},
        "metric": {"filter_string": "metrics.acc > 0.5"},
        "param": {"filter_string": "params.p = 'b'"},
        "tag_like": {"filter_string": "tags.u LIKE '2%'"},
        "order_metric": {"order_by": [{"field_name": "metrics.acc", "ascending": False}]},
        "order_name": {"order_by": [{"field_name": "name", "ascending": True}]},
        "paged": {"max_results": 2},
        "bad_filter": {"filter_string": "colour = 'red'"},
    }
    for name, kwargs in searches.items():
        rec.step(
            f"models.search.{name}",
            lambda k=kwargs: model_names(client.search_logged_models([exp], **k)),
        )
    rec.step(
        "models.search.page_two",
        lambda: model_names(
            client.search_logged_models(
                [exp],
                max_results=2,
                order_by=[{"field_name": "name"}],
                page_token=client.search_logged_models(
                    [exp], max_results=2, order_by=[{"field_name": "name"}]
                ).token,
            )
        ),
    )


# --- the model registry ----------------------------------------------------------------------
def version_view(version: Any) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": version.version,
        "current_stage": version.current_stage,
        "description": version.description,
        "source": version.source,
        "run_id": version.run_id,
        "run_link": version.run_link,
        "status": version.status,
        "user_id": version.user_id,
        "tags": dict(version.tags),
        "aliases": sorted(version.aliases),
        "timestamps_set": bool(version.creation_timestamp and version.last_updated_timestamp),
    }


def registered_view(model: Any) -> dict[str, Any]:
    return {
        "name": model.name,
        "description": model.description,
        "tags": dict(model.tags),
        "aliases": dict(model.aliases),
        "latest_versions": sorted((v.version, v.current_stage) for v in model.latest_versions),
        "timestamps_set": bool(model.creation_timestamp and model.last_updated_timestamp),
    }


def registry_part(rec: Recorder, client: MlflowClient, ids: dict[str, str], work: Path) -> None:
    name = f"{rec.prefix}-reg"
    rec.step(
        "registry.create",
        lambda: registered_view(client.create_registered_model(name, {"team": "a"}, "first")),
    )
    rec.step(
        "registry.create.duplicate", lambda: client.create_registered_model(name), message=True
    )
    rec.step(
        "registry.create.bad_name", lambda: client.create_registered_model("a/b"), message=True
    )
    model, x = sklearn_model()
    with mlflow.start_run(experiment_id=ids["models"]) as run:
        rec.label(run.info.run_id, "run:registry")
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        mlflow.log_text("weights\n", "plain/weights.txt")
    rec.label(info.model_id, "model:registered")
    run_id = run.info.run_id
    rec.step(
        "registry.register.runs_uri",
        lambda: version_view(mlflow.register_model(f"runs:/{run_id}/model", name)),
    )
    rec.step(
        "registry.register.model_uri",
        lambda: version_view(mlflow.register_model(f"models:/{info.model_id}", name)),
    )
    rec.step(
        "registry.create_version.run_files",
        lambda: version_view(
            client.create_model_version(name, f"runs:/{run_id}/plain", run_id, description="plain")
        ),
    )
    rec.step(
        "registry.create_version.wrong_run",
        lambda: client.create_model_version(name, f"runs:/{run_id}/plain", ids["models_run"]),
        message=True,
    )
    rec.step(
        "registry.logged_model_tag",
        lambda: client.get_logged_model(info.model_id).tags.get("mlflow.modelVersions"),
    )
    rec.step("registry.get_version", lambda: version_view(client.get_model_version(name, "2")))
    rec.step(
        "registry.update_version",
        lambda: version_view(client.update_model_version(name, "1", "updated")),
    )
    rec.step(
        "registry.stage.staging",
        lambda: version_view(client.transition_model_version_stage(name, "1", "staging")),
    )
    rec.step(
        "registry.stage.production",
        lambda: version_view(client.transition_model_version_stage(name, "2", "Production")),
    )
    rec.step(
        "registry.stage.archive_existing",
        lambda: version_view(
            client.transition_model_version_stage(
                name, "3", "Production", archive_existing_versions=True
            )
        ),
    )
    rec.step(
        "registry.stage.versions",
        lambda: [
            (v.version, v.current_stage)
            for v in client.search_model_versions(
                f"name = '{name}'", order_by=["version_number ASC"]
            )
        ],
    )
    rec.step(
        "registry.stage.bad",
        lambda: client.transition_model_version_stage(name, "1", "Sideways"),
        message=True,
    )
    rec.step(
        "registry.latest_versions",
        lambda: sorted(
            (v.version, v.current_stage)
            for v in client.get_latest_versions(name, ["Production", "Staging"])
        ),
    )
    rec.step("registry.version_tag.set", lambda: client.set_model_version_tag(name, "1", "k", "v"))
    rec.step(
        "registry.version_tag.delete", lambda: client.delete_model_version_tag(name, "2", "nope")
    )
    rec.step("registry.model_tag.set", lambda: client.set_registered_model_tag(name, "k", "v"))
    rec.step("registry.model_tag.delete", lambda: client.delete_registered_model_tag(name, "team"))
    rec.step("registry.alias.set", lambda: client.set_registered_model_alias(name, "champion", "1"))
    rec.step(
        "registry.alias.reserved",
        lambda: client.set_registered_model_alias(name, "latest", "1"),
        message=True,
    )
    rec.step(
        "registry.alias.get",
        lambda: version_view(client.get_model_version_by_alias(name, "champion")),
    )
    rec.step(
        "registry.alias.latest",
        lambda: int(client.get_model_version_by_alias(name, "latest").version),
    )
    rec.step("registry.get", lambda: registered_view(client.get_registered_model(name)))
    rec.step("registry.download_uri", lambda: client.get_model_version_download_uri(name, "1"))
    rec.step(
        "registry.load.version",
        lambda: mlflow.pyfunc.load_model(f"models:/{name}/1").predict(x).tolist(),
    )
    rec.step(
        "registry.load.alias",
        lambda: mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(x).tolist(),
    )
    rec.step(
        "registry.download.alias",
        lambda: sorted(
            tree_digest(
                Path(
                    mlflow.artifacts.download_artifacts(
                        f"models:/{name}@champion", dst_path=str(work / "dl-reg")
                    )
                )
            )
        ),
    )
    rec.step(
        "registry.alias.delete", lambda: client.delete_registered_model_alias(name, "champion")
    )
    rec.step(
        "registry.alias.missing",
        lambda: client.get_model_version_by_alias(name, "champion"),
        message=True,
    )
    rec.step(
        "registry.search_versions.run",
        lambda: sorted(v.version for v in client.search_model_versions(f"run_id = '{run_id}'")),
    )
    rec.step(
        "registry.search_models",
        lambda: [m.name for m in client.search_registered_models(f"name LIKE '{rec.prefix}%'")],
    )
    rec.step(
        "registry.update_model",
        lambda: registered_view(client.update_registered_model(name, "second")),
    )
    rec.step("registry.delete_version", lambda: client.delete_model_version(name, "2"))
    rec.step(
        "registry.delete_version.get", lambda: client.get_model_version(name, "2"), message=True
    )
    rec.step(
        "registry.after_delete",
        lambda: version_view(
            client.create_model_version(name, f"models:/{info.model_id}", model_id=info.model_id)
        ),
    )
    renamed = f"{name}-renamed"
    rec.step(
        "registry.rename",
        lambda: (
            client.rename_registered_model(name, renamed),
            registered_view(client.get_registered_model(renamed)),
        )[1],
    )
    rec.step(
        "registry.rename.versions",
        lambda: sorted(
            (v.name, v.version) for v in client.search_model_versions(f"name = '{renamed}'")
        ),
    )
    rec.step("registry.rename.old", lambda: client.get_registered_model(name), message=True)
    rec.step("registry.delete", lambda: client.delete_registered_model(renamed))
    rec.step(
        "registry.delete.search",
        lambda: [m.name for m in client.search_registered_models(f"name LIKE '{rec.prefix}%'")],
    )


# --- request checks from MLflow's own REST tracking tests --------------------------------------
def suite_part(rec: Recorder, client: MlflowClient, uri: str, runs: dict[str, str]) -> None:
    """The request validation MLflow's test_rest_tracking.py asserts (status, code, wording)."""
    api = httpx.Client(base_url=uri, timeout=30)
    run = runs["manual"]
    metric = {"run_id": run, "key": "m", "value": 41, "timestamp": 59, "step": 26}
    bad_posts: dict[str, tuple[str, dict[str, Any]]] = {
        "log_metric.run_id_type": ("runs/log-metric", metric | {"run_id": 31}),
        "log_metric.key_type": ("runs/log-metric", metric | {"key": 31}),
        "log_metric.step_type": ("runs/log-metric", metric | {"step": "foo"}),
        "log_metric.timestamp_type": ("runs/log-metric", metric | {"timestamp": "foo"}),
        "log_metric.run_id_none": ("runs/log-metric", metric | {"run_id": None}),
        "log_metric.key_none": ("runs/log-metric", metric | {"key": None}),
        "log_param.run_id_type": ("runs/log-parameter", {"run_id": 31, "key": "p", "value": "v"}),
        "log_param.key_type": ("runs/log-parameter", {"run_id": run, "key": 31, "value": "v"}),
        "set_tag.value_type": ("runs/set-tag", {"run_id": run, "key": "t", "value": 41}),
        "set_tag.no_key": ("runs/set-tag", {"run_id": run, "value": "v"}),
        "set_tag.run_uuid": ("runs/set-tag", {"run_uuid": run, "key": "k", "value": "v"}),
        "create_experiment.name_type": ("experiments/create", {"name": 123}),
        "create_experiment.location_type": (
            "experiments/create",
            {"name": f"{rec.prefix}-loc-type", "artifact_location": 9.0},
        ),
        "create_experiment.tags_type": (
            "experiments/create",
            {"name": f"{rec.prefix}-tags-type", "tags": "5"},
        ),
        "log_batch.no_step": (
            "runs/log-batch",
            {"run_id": run, "metrics": [{"key": "mae", "value": 2.5, "timestamp": 123456789}]},
        ),
    }
    for what in ("metrics", "params", "tags"):
        bad_posts[f"log_batch.{what}_type"] = ("runs/log-batch", {"run_id": run, what: "foo"})
    for name, (path, payload) in bad_posts.items():
        rec.step(f"suite.{name}", lambda u=path, p=payload: rest_message(api, u, p, post=True))
    history_checks(rec, api, run, runs)
    rec.step(
        "suite.get_artifact.path",
        lambda: raw_status(api.get("/get-artifact", params={"run_id": run, "path": "../path"})),
    )
    rec.step(
        "suite.model_version_artifact.path",
        lambda: raw_status(
            api.get(
                "/model-versions/get-artifact",
                params={"name": "model", "version": 1, "path": "../path"},
            )
        ),
    )
    model_links(rec, client)
    rec.step("suite.search_pagination", lambda: paging_by_run_id(client))


def raw_status(response: httpx.Response) -> dict[str, Any]:
    body = response.json() if "json" in response.headers.get("content-type", "") else {}
    return {"status": response.status_code, "body": body}


def history_checks(rec: Recorder, api: httpx.Client, run: str, runs: dict[str, str]) -> None:
    interval = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
    bulk = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
    many = [f"id_{i}" for i in range(101)]
    queries: dict[str, tuple[str, dict[str, Any]]] = {
        "interval.no_run_ids": (interval, {"metric_key": "key"}),
        "interval.too_many": (interval, {"run_ids": many, "metric_key": "key"}),
        "interval.max_results": (interval, {"run_ids": [run], "metric_key": "k", "max_results": 0}),
        "interval.no_key": (interval, {"run_ids": [run], "max_results": 5}),
        "interval.end_before_start": (
            interval,
            {"run_ids": [run], "metric_key": "k", "start_step": 1, "end_step": 0},
        ),
        "interval.start_only": (interval, {"run_ids": [run], "metric_key": "k", "start_step": 1}),
        "bulk.no_run_id": (bulk, {"metric_key": "key"}),
        "bulk.too_many": (bulk, {"run_id": many, "metric_key": "key"}),
        "bulk.no_key": (bulk, {"run_id": [run]}),
        "bulk.two_runs": (bulk, {"run_id": [runs["parent"], runs["r1"]], "metric_key": "loss"}),
        "bulk.max_results": (
            bulk,
            {"run_id": [runs["parent"]], "metric_key": "loss", "max_results": 3},
        ),
    }
    for name, (path, query) in queries.items():
        rec.step(f"suite.{name}", lambda u=path, q=query: raw_status(api.get(u, params=q)))
    # mlflow server's message shows the token's decoded bytes: compare status and code only.
    token = {"run_id": run, "metric_key": "m", "page_token": "invalid_token"}
    rec.step(
        "suite.history.bad_token",
        lambda: {
            k: v
            for k, v in rest_message(api, "metrics/get-history", token).items()
            if k != "message"
        },
    )


def model_links(rec: Recorder, client: MlflowClient) -> None:
    """A metric linked to a model with its dataset; a model logged as a run input."""
    experiment = client.get_experiment_by_name(f"{rec.prefix}-main").experiment_id
    run = client.create_run(experiment).info.run_id
    rec.label(run, "run:links")
    model = client.create_logged_model(experiment).model_id
    rec.label(model, "model:links")
    client.log_metric(
        run,
        "metric",
        0.5,
        123456789,
        1,
        dataset_name="name",
        dataset_digest="digest",
        model_id=model,
    )
    client.log_inputs(run, models=[LoggedModelInput(model_id=model)])
    rec.step(
        "suite.model_metric", lambda: logged_model_view(client.get_logged_model(model))["metrics"]
    )
    rec.step(
        "suite.model_inputs",
        lambda: [m.model_id for m in client.get_run(run).inputs.model_inputs],
    )


def paging_by_run_id(client: MlflowClient) -> list[bool]:
    """Runs with the same start time come back by run id, in pages."""
    experiment = client.create_experiment(f"pagination-{uuid.uuid4().hex[:8]}")
    ids = sorted(client.create_run(experiment, start_time=1).info.run_id for _ in range(10))
    pages, token = [], None
    for _ in range(3):
        page = client.search_runs([experiment], max_results=4, page_token=token)
        pages.append([r.info.run_id for r in page])
        token = page.token
    return [pages[0] == ids[:4], pages[1] == ids[4:8], pages[2] == ids[8:], token is None]
