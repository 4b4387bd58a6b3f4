"""`Workspace`: where the collector is (Azure ML v1's workspace, minus the cloud)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlog import _config, _kwargs
from runlog._pipeline import Pipeline, get_pipeline
from runlog.exceptions import ConfigError

_FROM_CONFIG_IGNORED = {
    "auth": "runlog sends the bearer token of the config file or RUNLOG_TOKEN",
    "_logger": "an Azure ML internal argument",
    "_file_name": f"runlog reads {_config.CONFIG_DIR}/{_config.CONFIG_FILE}",
}

if TYPE_CHECKING:
    from runlog._transport import Transport
    from runlog.client import Client
    from runlog.experiment import Experiment
    from runlog.model import Model
    from runlog.run import Run


class Workspace:
    """A collector endpoint and its token.

    Args:
        endpoint: Collector URL; default ``RUNLOG_ENDPOINT``, then the nearest
            ``.runlog/config.json``, then ``http://127.0.0.1:4318``.
        token: Bearer token; default ``RUNLOG_TOKEN``, then the config file.
        transport: Where the exporter delivers run data instead of the collector's
            OTLP/HTTP endpoint (an object with ``deliver_logs(body)`` and
            ``deliver_file(upload)``, e.g. `runlog.testing.Recorder`); queries still go
            to *endpoint*.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        config_path: str | os.PathLike[str] | None = None,
        transport: Transport | None = None,
    ) -> None:
        self._settings = _config.resolve(endpoint, token, config_path)
        self._client: Client | None = None
        self._transport = transport

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        auth: Any = None,
        _logger: Any = None,
        _file_name: str | None = None,
    ) -> Workspace:
        """Read ``.runlog/config.json`` from *path* (a file or folder) or the nearest one up.

        Azure ML v1's *auth* has no effect (runlog authenticates with the config's or
        ``RUNLOG_TOKEN``'s bearer token) and warns once; so do *_logger* and *_file_name*.

        Raises:
            ConfigError: No config file was found, or it is malformed.
        """
        for name, value in (("auth", auth), ("_logger", _logger), ("_file_name", _file_name)):
            if value is not None:
                _kwargs.warn_once("Workspace.from_config", name, _FROM_CONFIG_IGNORED[name])
        found = _locate(path)
        if found is None:
            where = path or os.getcwd()
            raise ConfigError(
                f"no {_config.CONFIG_DIR}/{_config.CONFIG_FILE} found from {where} upwards; "
                'create one holding {"endpoint": "http://127.0.0.1:4318"} or use Workspace()'
            )
        return cls(config_path=found)

    @property
    def endpoint(self) -> str:
        """The collector URL."""
        return self._settings.endpoint

    @property
    def token(self) -> str | None:
        """The bearer token, if any."""
        return self._settings.token

    def client(self) -> Client:
        """The query client for this workspace."""
        if self._client is None:
            from runlog.client import Client

            self._client = Client(self.endpoint, self.token)
        return self._client

    def _pipeline(self) -> Pipeline:
        return get_pipeline(self.endpoint, self.token, self._transport)

    @property
    def experiments(self) -> dict[str, Experiment]:
        """Experiments known to the collector, by name."""
        from runlog.experiment import Experiment

        return {e["name"]: Experiment(self, e["name"]) for e in self.client().list_experiments()}

    @property
    def models(self) -> dict[str, Model]:
        """Registered models by name, each at its latest version (Azure ML v1's
        ``Workspace.models``)."""
        from runlog.model import Model

        return {
            m["name"]: Model(self, m["name"])
            for m in self.client().list_models()
            if m["latest_version"]
        }

    def get_run(self, run_id: str) -> Run:
        """The run *run_id* (raises NotFoundError if unknown)."""
        from runlog.experiment import Experiment
        from runlog.run import Run

        info = self.client().get_run(run_id)
        return Run._from_info(Experiment(self, info["experiment"]), info)

    def get_details(self) -> dict[str, Any]:
        """Endpoint and the config file it came from."""
        return {"endpoint": self.endpoint, "config": self._settings.config_path}

    def __repr__(self) -> str:
        return f"Workspace(endpoint={self.endpoint!r})"


def _locate(path: str | os.PathLike[str] | None) -> Path | None:
    if path is None:
        return _config.find_config()
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    for inner in (
        candidate / _config.CONFIG_DIR / _config.CONFIG_FILE,
        candidate / _config.CONFIG_FILE,
    ):
        if inner.is_file():
            return inner
    return _config.find_config(candidate) if candidate.is_dir() else None


_default: Workspace | None = None


def default_workspace() -> Workspace:
    """The workspace used when none is given (resolved once per process)."""
    global _default
    if _default is None:
        _default = Workspace()
    return _default
