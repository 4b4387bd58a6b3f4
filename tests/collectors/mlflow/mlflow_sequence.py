"""The MLflow call sequence of the differential check, and how its outcomes are normalized.

``mlflow_sequence(uri, work)`` drives the real ``mlflow`` package (fluent API and
``MlflowClient``, plus raw REST calls for limits, status codes and the charts' bulk-interval
history) against one tracking URI and returns ``{step: outcome}``: the value a call returned,
or the MLflow error code it raised. tests/collectors/mlflow/test_mlflow_differential.py runs it
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
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
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
    from mlflow_sequence_checks import details_part, fresh_part, suite_part
    from mlflow_sequence_models import logged_models_part, registry_part

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
    rec.step(
        "search_experiments.experiment_id",
        lambda: search_exps(filter_string=f"and attribute.experiment_id = '{ids['other']}'"),
    )
    rec.step(
        "search_experiments.run_attribute",
        lambda: search_exps(filter_string="and attribute.run_id = 'x'"),
    )
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
