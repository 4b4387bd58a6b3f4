"""MLflow's rules for keys, values and batch sizes, with MLflow's error messages."""

from __future__ import annotations

import posixpath
import re
from typing import Any, Final

from collectors.mlflow.errors import invalid

MAX_METRICS_PER_BATCH: Final = 1000
MAX_PARAMS_PER_BATCH: Final = 100
MAX_TAGS_PER_BATCH: Final = 100
MAX_ENTITIES_PER_BATCH: Final = 1000
MAX_PARAM_VALUE_LENGTH: Final = 6000
MAX_TAG_VALUE_LENGTH: Final = 8000
MAX_EXPERIMENT_TAG_VALUE_LENGTH: Final = 20_000
MAX_KEY_LENGTH: Final = 250
_KEY = re.compile(r"^[/\w.\- :]*$")


def check_key(what: str, key: Any) -> str:
    """Return *key* if MLflow accepts it as a metric, param or tag name; else raise a 400."""
    if not isinstance(key, str) or not key:
        raise invalid(f"Missing value for required parameter 'key' of a {what}.")
    if not key.strip():  # MLflow's pattern allows it; runlog's store does not
        raise invalid(f"Invalid {what} name: '{key}'. Names must not be blank.")
    if len(key) > MAX_KEY_LENGTH:
        raise invalid(
            f"{what.capitalize()} '{key[:80]}...' had length {len(key)}, which exceeded "
            f"length limit of {MAX_KEY_LENGTH}"
        )
    if not _KEY.match(key) or posixpath.normpath(key) != key or key.startswith("/"):
        raise invalid(
            f"Invalid {what} name: '{key}'. Names may only contain alphanumerics, underscores "
            "(_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/), and may not "
            "be or resolve to a path outside the run."
        )
    return key


def check_value(what: str, key: str, value: Any, limit: int, truncate: bool = False) -> str:
    """Return *value* if it is a string within *limit* characters; else raise a 400.

    With *truncate*, a longer value is cut to its first *limit* characters instead, as
    mlflow server 3.x does for run params and tags (``MLFLOW_TRUNCATE_LONG_VALUES``, on by
    default): the MLflow client logs long values without an error.
    """
    if not isinstance(value, str):
        raise invalid(f"{what.capitalize()} '{key}' must have a string value.")
    if len(value) > limit:
        if truncate:
            return value[:limit]
        raise invalid(
            f"{what.capitalize()} '{key}' had value length {len(value)}, which exceeded "
            f"length limit of {limit}"
        )
    return value


def check_param(key: Any, value: Any) -> tuple[str, str]:
    """A run or logged-model param; values past 6000 characters are truncated (MLflow's)."""
    key = check_key("param", key)
    return key, check_value("param", key, value, MAX_PARAM_VALUE_LENGTH, truncate=True)


def check_tag(key: Any, value: Any) -> tuple[str, str]:
    """A run or logged-model tag; values past 8000 characters are truncated (MLflow's)."""
    key = check_key("tag", key)
    return key, check_value("tag", key, value, MAX_TAG_VALUE_LENGTH, truncate=True)


def check_experiment_tag(key: Any, value: Any) -> tuple[str, str]:
    """An experiment tag: MLflow allows 20,000 characters and refuses longer values."""
    key = check_key("tag", key)
    return key, check_value("tag", key, value, MAX_EXPERIMENT_TAG_VALUE_LENGTH)


def check_batch_sizes(metrics: int, params: int, tags: int) -> None:
    """MLflow's log-batch limits."""
    for what, count, limit in (
        ("metrics", metrics, MAX_METRICS_PER_BATCH),
        ("params", params, MAX_PARAMS_PER_BATCH),
        ("tags", tags, MAX_TAGS_PER_BATCH),
    ):
        if count > limit:
            raise invalid(
                f"A batch logging request can contain at most {limit} {what}. "
                f"Got {count} {what}. Please split up {what} across multiple requests and "
                "try again."
            )
    total = metrics + params + tags
    if total > MAX_ENTITIES_PER_BATCH:
        raise invalid(
            f"A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, "
            f"params, and tags in total. Got {total} in total. Please split up across "
            "multiple requests and try again."
        )
