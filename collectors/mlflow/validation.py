"""MLflow's rules for keys, values and batch sizes, with MLflow's error messages."""

from __future__ import annotations

import posixpath
import re
from typing import Any, Final

from collectors.mlflow.errors import invalid, invalid_value, required, wrong_type

MAX_METRICS_PER_BATCH: Final = 1000
MAX_PARAMS_PER_BATCH: Final = 100
MAX_TAGS_PER_BATCH: Final = 100
MAX_ENTITIES_PER_BATCH: Final = 1000
MAX_PARAM_VALUE_LENGTH: Final = 6000
MAX_TAG_VALUE_LENGTH: Final = 8000
MAX_EXPERIMENT_TAG_VALUE_LENGTH: Final = 20_000
MAX_KEY_LENGTH: Final = 250
_KEY = re.compile(r"^[/\w.\- :]*$")


_BAD_CHARACTERS = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ),"
    " colon(:) and slashes (/)."
)


def item_path(path: str, index: int | None, field: str) -> str:
    """``metrics[3].key`` for an item of a batch, ``key`` for a single value."""
    return field if index is None else f"{path}[{index}].{field}"


def check_key(length_name: str, key: Any, path: str = "key", field: str | None = None) -> str:
    """Return *key* if MLflow accepts it as a metric, param or tag name; else raise a 400.

    Args:
        length_name: how MLflow names the key in its length message (``Metric name``).
        key: the name to check.
        path: how MLflow names the key in its messages about names (``name`` for metrics).
        field: the request field (``key``, ``metrics[0].key``); default *path*.
    """
    if key is None or key == "":
        raise required(field or path)
    if not isinstance(key, str):
        raise wrong_type(field or path, key)
    if not key.strip():  # MLflow's pattern allows it; runlog's store does not
        raise invalid_value(path, key, "Names must not be blank.")
    if not _KEY.match(key):
        raise invalid_value(path, key, _BAD_CHARACTERS)
    normal = posixpath.normpath(key)
    if normal != key or normal == "." or normal.startswith(("..", "/")):
        raise invalid_value(
            path,
            key,
            "Names may be treated as files in certain cases, and must not resolve to other "
            f"names when treated as such. This name would resolve to {normal!r}",
        )
    if len(key) > MAX_KEY_LENGTH:
        raise invalid(f"'{length_name}' exceeds the maximum length of {MAX_KEY_LENGTH} characters")
    return key


def check_value(
    what: str, key: str, value: Any, limit: int, truncate: bool = False, field: str = "value"
) -> str:
    """Return *value* if it is a string within *limit* characters; else raise a 400.

    With *truncate*, a longer value is cut to its first *limit* characters instead, as
    mlflow server 3.x does for run params and tags (``MLFLOW_TRUNCATE_LONG_VALUES``, on by
    default): the MLflow client logs long values without an error. *field* names the value
    in the request (``value``, ``tags[0].value``).
    """
    if not isinstance(value, str):
        raise wrong_type(field, value)
    if len(value) > limit:
        if truncate:
            return value[:limit]
        raise invalid(f"'{what}' exceeds the maximum length of {limit} characters")
    return value


def check_param(key: Any, value: Any, index: int | None = None) -> tuple[str, str]:
    """A run or logged-model param; values past 6000 characters are truncated (MLflow's)."""
    key = check_key("Param key", key, item_path("params", index, "key"))
    field = item_path("params", index, "value")
    return key, check_value("param", key, value, MAX_PARAM_VALUE_LENGTH, True, field)


def check_tag(key: Any, value: Any, index: int | None = None) -> tuple[str, str]:
    """A run or logged-model tag; values past 8000 characters are truncated (MLflow's)."""
    path = item_path("tags", index, "key")
    key = check_key(path, key, path)
    field = item_path("tags", index, "value")
    return key, check_value("tag", key, value, MAX_TAG_VALUE_LENGTH, True, field)


def check_experiment_tag(key: Any, value: Any) -> tuple[str, str]:
    """An experiment tag: MLflow allows 20,000 characters and refuses longer values."""
    key = check_key("key", key)
    return key, check_value("value", key, value, MAX_EXPERIMENT_TAG_VALUE_LENGTH)


def check_batch_sizes(metrics: int, params: int, tags: int) -> None:
    """MLflow's log-batch limits."""
    for what, count, limit in (
        ("metrics", metrics, MAX_METRICS_PER_BATCH),
        ("params", params, MAX_PARAMS_PER_BATCH),
        ("tags", tags, MAX_TAGS_PER_BATCH),
        ("metrics, params, and tags", metrics + params + tags, MAX_ENTITIES_PER_BATCH),
    ):
        if count > limit:
            raise invalid(
                f"A batch logging request can contain at most {limit} {what}. "
                f"Got {count} {what}. Please split up {what} across multiple requests and "
                "try again."
            )
