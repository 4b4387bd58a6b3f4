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


def check_value(what: str, key: str, value: Any, limit: int) -> str:
    """Return *value* if it is a string within *limit* characters; else raise a 400."""
    if not isinstance(value, str):
        raise invalid(f"{what.capitalize()} '{key}' must have a string value.")
    if len(value) > limit:
        raise invalid(
            f"{what.capitalize()} '{key}' had value length {len(value)}, which exceeded "
            f"length limit of {limit}"
        )
    return value


def check_param(key: Any, value: Any) -> tuple[str, str]:
    key = check_key("param", key)
    return key, check_value("param", key, value, MAX_PARAM_VALUE_LENGTH)


def check_tag(key: Any, value: Any) -> tuple[str, str]:
    key = check_key("tag", key)
    return key, check_value("tag", key, value, MAX_TAG_VALUE_LENGTH)


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
