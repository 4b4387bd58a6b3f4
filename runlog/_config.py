"""Where the collector is: arguments, then environment, then `.runlog/config.json`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from runlog import conventions as c
from runlog.exceptions import ConfigError

CONFIG_DIR = ".runlog"
CONFIG_FILE = "config.json"


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved connection settings."""

    endpoint: str = c.DEFAULT_ENDPOINT
    token: str | None = None
    config_path: str | None = None


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the nearest `.runlog/config.json` walking up from *start* (default: cwd)."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_DIR / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def read_config(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a config file; raise ConfigError saying what is wrong with it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read runlog config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"runlog config {path} must hold a JSON object, e.g. "
            '{"endpoint": "http://127.0.0.1:4318"}'
        )
    for key in ("endpoint", "token"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"runlog config {path}: {key!r} must be a string")
    return {k: v for k, v in data.items() if isinstance(v, str)}


#: OTLP signal paths people paste from OTel exporter settings; runlog adds its paths itself.
OTLP_PATH_SUFFIXES = ("/v1/logs", "/v1/traces", "/v1/metrics")


def check_endpoint(endpoint: str) -> str:
    """Return *endpoint* normalised; raise ConfigError if it is no collector base URL.

    The scheme and host are lower-cased, a trailing slash and a known OTLP signal path
    (``/v1/logs``, ``/v1/traces``, ``/v1/metrics``: OTel exporters take full URLs) are
    removed, so ``http://127.0.0.1:4318/v1/logs`` means the collector at
    ``http://127.0.0.1:4318``. A path prefix (a collector behind a proxy) is kept.
    """
    example = f"e.g. {c.DEFAULT_ENDPOINT}"
    if not endpoint.strip().lower().startswith(("http://", "https://")):
        raise ConfigError(
            f"runlog endpoint {endpoint!r} must start with http:// or https://, {example}"
        )
    try:
        parts = urlsplit(endpoint.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(
            f"runlog endpoint {endpoint!r} is no valid URL ({exc}), {example}"
        ) from exc
    if not parts.hostname or parts.query or parts.fragment or parts.username:
        raise ConfigError(
            f"runlog endpoint {endpoint!r} must be the collector's base URL: a host and "
            f"port, no query, fragment or user name, {example}"
        )
    path = parts.path.rstrip("/")
    for suffix in OTLP_PATH_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme.lower()}://{netloc}{path}"


def resolve(
    endpoint: str | None = None,
    token: str | None = None,
    config_path: str | os.PathLike[str] | None = None,
) -> Settings:
    """Resolve settings: explicit arguments win, then RUNLOG_* variables, then the config file."""
    path = Path(config_path) if config_path else find_config()
    file_values = read_config(path) if path else {}
    chosen = (
        endpoint
        or os.environ.get(c.ENV_ENDPOINT)
        or file_values.get("endpoint")
        or c.DEFAULT_ENDPOINT
    )
    chosen_token = token or os.environ.get(c.ENV_TOKEN) or file_values.get("token") or None
    return Settings(check_endpoint(chosen), chosen_token, str(path) if path else None)
