"""The MLflow 3 part of the differential sequence: logged models and the model registry.

Run by `mlflow_sequence.mlflow_sequence` after the tracking parts; see that module for how
outcomes are recorded and normalized.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import LoggedModelOutput
from mlflow_sequence import (
    T0,
    Recorder,
    artifact_view,
    history_view,
    tree_digest,
)


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
        # A run attribute is no logged-model key: a 400, not a filter on some other field.
        "run_attribute": {"filter_string": "attributes.parent_id = 'sklearn'"},
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
