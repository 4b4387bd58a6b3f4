"""`Model`: a version in the collector's model registry (Azure ML v1's ``Model``).

``run.register_model("diabetes", "outputs/model.pkl")`` registers a run's file or folder as
the next version of a model; ``Model(ws, "diabetes")`` fetches the latest version (or
``version=``) and ``model.download()`` brings its files back. The registry is the one MLflow
clients use: ``mlflow.pyfunc.load_model("models:/diabetes/1")`` loads a version registered
here (an MLflow model folder), and versions MLflow registered are listed here too.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from runlog.exceptions import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from runlog.client import Client


class Workspace(Protocol):
    """What a `Model` needs of its `runlog.Workspace`: the query client of its collector
    (the registry is read and written through it)."""

    def client(self) -> Client:
        """The collector's query client."""
        ...


class Model:
    """One version of a registered model.

    Args:
        workspace: Where the collector is.
        name: The registered model's name.
        version: The version number; default the latest.

    Raises:
        NotFoundError: No such model or version is registered.
    """

    def __init__(self, workspace: Workspace, name: str, version: int | None = None) -> None:
        info = workspace.client().get_model(name)
        versions = info.get("versions", [])
        if version is not None:
            versions = [v for v in versions if v["version"] == int(version)]
        if not versions:
            which = f"version {version}" if version is not None else "any version"
            raise NotFoundError(f"model {name!r} has no {which}; see `runlog models {name}`")
        self._set(workspace, versions[-1])

    @classmethod
    def _from_info(cls, workspace: Workspace, info: Mapping[str, Any]) -> Model:
        model = cls.__new__(cls)
        model._set(workspace, info)
        return model

    def _set(self, workspace: Workspace, info: Mapping[str, Any]) -> None:
        self.workspace = workspace
        self.name: str = info["name"]
        self.version: int = int(info["version"])
        self.run_id: str | None = info.get("run_id")
        self.path: str | None = info.get("path")
        self.description: str | None = info.get("description")
        self.tags: dict[str, str] = dict(info.get("tags") or {})
        self.properties: dict[str, str] = dict(info.get("properties") or {})
        self.stage: str = info.get("stage", "None")
        self.aliases: list[str] = list(info.get("aliases") or [])
        self.source: str = info.get("source", "")
        created = info.get("created_ns")
        self.created_time = (
            None if created is None else datetime.fromtimestamp(created / 1e9, tz=timezone.utc)
        )

    @property
    def id(self) -> str:
        """``<name>:<version>``, as Azure ML writes a model id."""
        return f"{self.name}:{self.version}"

    @property
    def url(self) -> str:
        """The MLflow URI of this version: ``models:/<name>/<version>``."""
        return f"models:/{self.name}/{self.version}"

    @classmethod
    def list(cls, workspace: Workspace, name: str | None = None) -> builtins.list[Model]:
        """Every version of every registered model (or of model *name*), oldest first."""
        client = workspace.client()
        names = [name] if name is not None else [m["name"] for m in client.list_models()]
        return [
            cls._from_info(workspace, version)
            for model in names
            for version in client.get_model(model)["versions"]
        ]

    def download(self, target_dir: str | os.PathLike[str] = ".", exist_ok: bool = False) -> str:
        """Download the version's files into *target_dir*; return the local path.

        A registered file comes back as ``<target_dir>/<file name>``, a registered folder as
        ``<target_dir>/<folder name>/...`` (for a version MLflow registered from a logged
        model, its files go straight into *target_dir*).

        Raises:
            InvalidArgumentError: A file is there already and *exist_ok* is false.
        """
        client = self.workspace.client()
        files = client.list_model_files(self.name, self.version)
        base = Path(target_dir)
        folder = self.path.rsplit("/", 1)[-1] if self.path else ""
        single = len(files) == 1 and files[0]["path"] == folder
        root = base if single or not folder else base / folder
        for file in files:
            target = root / file["path"]
            if target.exists() and not exist_ok:
                raise InvalidArgumentError(
                    f"{target} exists; pass exist_ok=True to overwrite it, or another target_dir"
                )
            client.download_model_file(self.name, self.version, file["path"], target)
        return str(root / folder if single else root)

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, version={self.version}, run_id={self.run_id!r})"
