"""MLflow's search syntax, parsed into runlog's filter tree (`runlog.filters`).

MLflow filters look like runlog's: ``metrics.rmse < 1 and params.alpha = '0.5' and
tags.mlflow.source.type = 'LOCAL'``. The differences handled here: MLflow writes dotted names
bare (``tags.mlflow.runName``) and spells key types its own way (``parameters.``, ``attr.``),
which `rewrite` turns into runlog's spelling before the one parse. Each entity has its own
`KeySpace` (runs, experiments, logged models, registered models, model versions). For runs
the parsed filter is then mapped onto the store's run keys: MLflow's attribute names
(``created``, ``user_id``), its ``FINISHED``/``KILLED`` statuses and millisecond times, and
the system tags ``mlflow.runName`` / ``mlflow.parentRunId`` that are run columns here; the
store takes the result as it is. Like MLflow, filters here have no ``OR`` or parentheses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import cmp_to_key
from typing import Any, Final, TypeVar

from collectors.mlflow.errors import invalid
from collectors.mlflow.mapping import (
    PARENT_RUN_TAG,
    RUN_NAME_TAG,
    STATUS_TO_RUNLOG,
    USER_PROPERTY,
)
from collectors.store.base import (
    LoggedModelInfo,
    MlflowExperiment,
    ModelMetricInfo,
    ModelVersionInfo,
    RegisteredModelInfo,
)
from runlog import conventions as cv
from runlog.filters import (
    COMPARISONS,
    RUN_KEYS,
    And,
    Comparison,
    Filter,
    FilterError,
    Key,
    KeySpace,
    OrderBy,
    conjoin,
    evaluate,
    map_comparisons,
    parse_filter,
    parse_order_by,
    quote_name,
)

_TYPES: Final = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "parameter": "params",
    "parameters": "params",
    "tag": "tags",
    "tags": "tags",
    "attr": "attributes",
    "attribute": "attributes",
    "attributes": "attributes",
    "run": "attributes",
}
_BARE_ATTRIBUTES: Final = frozenset({"start_time", "end_time", "status", "run_id", "run_name"})
_IDENTIFIER = re.compile(r"([A-Za-z_]+)\.(`(?:[^`]|``)*`|\"(?:[^\"]|\"\")*\"|[\w\-/:.]+)")
_WORD = re.compile(r"[A-Za-z_]\w*")
_MS_TO_NS: Final = 1_000_000
VIEW_TYPES: Final = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": None}
_VIEW_NUMBERS: Final = {1: "ACTIVE_ONLY", 2: "DELETED_ONLY", 3: "ALL"}

#: The keys of MLflow's run search: runlog's run keys, with MLflow's attribute spellings.
MLFLOW_RUN_KEYS: Final = KeySpace(
    "runs",
    RUN_KEYS.types,
    RUN_KEYS.names | {"user_id"},
    RUN_KEYS.numeric,
    {**RUN_KEYS.aliases, "created": "start_time", "Created": "start_time"},
)
#: MLflow run keys that are other keys in the store.
_RUN_KEY_MAP: Final = {
    Key("attribute", "user_id"): Key("property", USER_PROPERTY),
    Key("tag", RUN_NAME_TAG): Key("attribute", "name"),
    Key("tag", PARENT_RUN_TAG): Key("attribute", "parent_id"),
}
EXPERIMENT_KEYS: Final = KeySpace(
    "experiments",
    frozenset({"attribute", "tag"}),
    frozenset({"name", "experiment_id", "creation_time", "last_update_time"}),
    frozenset({"creation_time", "last_update_time"}),
)


def _unquote(name: str) -> str:
    if name[:1] in '`"' and name[-1:] == name[:1] and len(name) > 1:
        quote = name[0]
        return name[1:-1].replace(quote * 2, quote)
    return name


def _identifier(key_type: str, name: str) -> str:
    """One MLflow identifier as runlog filter text."""
    plural = _TYPES.get(key_type.lower())
    if plural is None:
        raise invalid(
            f"unsupported key type {key_type!r} in the filter; expected metrics., params., "
            "tags. or attributes. (dataset filters are not supported by this server)"
        )
    return f"{plural}.{quote_name(name)}"


def rewrite(text: str, bare: Callable[[str], str | None] = lambda word: None) -> str:
    """Rewrite MLflow identifiers in *text* to runlog's spelling, leaving strings alone.

    *bare* maps a lone word (no ``type.`` prefix) to replacement text, or None to keep it.
    """
    out: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char in "'\"":
            end = _closing(text, pos)
            out.append(text[pos:end])
            pos = end
            continue
        found = _IDENTIFIER.match(text, pos) if _starts_word(text, pos) else None
        if found is not None:
            out.append(_identifier(found.group(1), _unquote(found.group(2))))
            pos = found.end()
            continue
        word = _WORD.match(text, pos) if _starts_word(text, pos) else None
        if word is not None:
            out.append(bare(word.group()) or word.group())
            pos = word.end()
            continue
        out.append(char)
        pos += 1
    return "".join(out)


def _starts_word(text: str, pos: int) -> bool:
    return (text[pos].isalpha() or text[pos] == "_") and (pos == 0 or not _is_word(text[pos - 1]))


def _is_word(char: str) -> bool:
    return char.isalnum() or char in "_.`"


def _closing(text: str, start: int) -> int:
    """The index after the string literal opening at *start* (doubled quotes included)."""
    quote, pos = text[start], start + 1
    while True:
        end = text.find(quote, pos)
        if end < 0:
            return len(text)  # unterminated: the parser reports it
        if not text.startswith(quote, end + 1):
            return end + 1
        pos = end + 2


def _bare_keys(keys: KeySpace) -> Callable[[str], str | None]:
    """Bare attribute names of *keys* (no ``attributes.``) as attribute keys."""

    def bare(word: str) -> str | None:
        known = word in keys.names or word in keys.aliases
        return f"attributes.{quote_name(word)}" if known else None

    return bare


def parse_mlflow(
    text: str, keys: KeySpace, what: str, bare: Callable[[str], str | None] | None = None
) -> Filter:
    """MLflow filter *text* parsed with *keys* (no OR); a malformed one is a 400.

    *bare* maps lone words to keys; by default every attribute name of *keys* may go bare.
    """
    try:
        return parse_filter(rewrite(text or "", bare or _bare_keys(keys)), keys, boolean=False)
    except FilterError as exc:
        raise invalid(f"invalid {what} {text[:200]!r}: {exc}") from None


def _run_comparison(comparison: Comparison) -> Comparison:
    """An MLflow run comparison on the store's run keys and in its units."""
    key = _RUN_KEY_MAP.get(comparison.key, comparison.key)
    value = comparison.value
    if isinstance(value, tuple):
        return Comparison(key, comparison.op, tuple(_adjusted_value(key, v) for v in value))
    return Comparison(key, comparison.op, None if value is None else _adjusted_value(key, value))


def _adjusted_value(key: Key, value: str | int | float) -> str | int | float:
    """MLflow's milliseconds and status names as runlog's nanoseconds and statuses."""
    if key.type == "attribute" and key.name in ("start_time", "end_time"):
        if isinstance(value, (int, float)):
            ns = value * _MS_TO_NS
            # past int64 no column holds it: as a float it still compares (no overflow)
            return int(ns) if cv.INT64_MIN <= ns <= cv.INT64_MAX else float(ns)
    elif key.type == "attribute" and key.name == "status" and isinstance(value, str):
        return STATUS_TO_RUNLOG.get(value.upper(), value)
    return value


def run_filter(text: str, view_type: Any = None) -> Filter:
    """An MLflow ``search_runs`` filter and run view type, parsed onto the store's run keys."""
    parsed = parse_mlflow(text, MLFLOW_RUN_KEYS, "filter", bare=lambda word: None)
    parsed = map_comparisons(parsed, _run_comparison)
    stage = VIEW_TYPES.get(_view_name(view_type), "active")
    if stage is None:
        return parsed
    return conjoin(parsed, Comparison(Key("attribute", "lifecycle_stage"), "=", stage))


def _view_name(view_type: Any) -> str:
    if view_type is None or view_type == "":
        return "ACTIVE_ONLY"
    if isinstance(view_type, int) and view_type in _VIEW_NUMBERS:
        return _VIEW_NUMBERS[view_type]
    if isinstance(view_type, str) and view_type in VIEW_TYPES:
        return view_type
    raise invalid(f"run_view_type {view_type!r}: expected ACTIVE_ONLY, DELETED_ONLY or ALL")


def _bare_attribute(word: str) -> str | None:
    return f"attributes.{word}" if word in _BARE_ATTRIBUTES else None


def run_order_by(clauses: Sequence[str]) -> list[OrderBy]:
    """MLflow order-by clauses parsed onto the store's run keys (a bad clause is a 400)."""
    out = []
    for clause in clauses:
        try:
            order = parse_order_by(rewrite(clause, _bare_attribute), MLFLOW_RUN_KEYS)
        except FilterError as exc:
            raise invalid(f"invalid order_by clause {clause[:200]!r}: {exc}") from None
        out.append(OrderBy(_RUN_KEY_MAP.get(order.key, order.key), order.ascending))
    return out


# --- experiments -----------------------------------------------------------------------------


def experiment_filter(text: str) -> Callable[[MlflowExperiment], bool]:
    """A predicate for an MLflow ``search_experiments`` filter (name, id, times, tags)."""
    parsed = parse_mlflow(text, EXPERIMENT_KEYS, "experiment filter")

    def matches(experiment: MlflowExperiment) -> bool:
        return evaluate(parsed, lambda c: _holds(c, _experiment_value(experiment, c.key)))

    return matches


def _experiment_value(experiment: MlflowExperiment, key: Key) -> Any:
    if key.type == "tag":
        return experiment.tags.get(key.name)
    return {
        "name": experiment.name,
        "experiment_id": str(experiment.experiment_id),
        "creation_time": experiment.created_ns // _MS_TO_NS,
        "last_update_time": (experiment.last_update_ns or experiment.created_ns) // _MS_TO_NS,
    }[key.name]


def _holds(comparison: Comparison, actual: Any) -> bool:
    op, expected = comparison.op, comparison.value
    if op in ("IS NULL", "IS NOT NULL"):
        return (actual is None) == (op == "IS NULL")
    if actual is None:
        return False
    if isinstance(expected, tuple):  # IN / NOT IN
        return (actual in expected) == (op == "IN")
    if op in ("LIKE", "ILIKE"):
        pattern = "".join(
            ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in str(expected)
        )
        flags = re.IGNORECASE if op == "ILIKE" else 0
        return re.fullmatch(pattern, str(actual), flags | re.DOTALL) is not None
    return bool(COMPARISONS[op](actual, expected))


def experiment_sort_key(clause: str) -> tuple[Callable[[MlflowExperiment], Any], bool]:
    """The sort key and descending flag of one MLflow experiment order-by clause."""
    words = clause.split()
    if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
        raise invalid(f"invalid order_by clause {clause!r}; expected e.g. 'name ASC'")
    field = re.sub(r"^(attributes?|attr)\.", "", words[0])
    keys: dict[str, Callable[[MlflowExperiment], Any]] = {
        "name": lambda e: e.name,
        "creation_time": lambda e: e.created_ns,
        "last_update_time": lambda e: e.last_update_ns or e.created_ns,
        "experiment_id": lambda e: e.experiment_id,
    }
    if field not in keys:
        raise invalid(f"experiments can be ordered by {', '.join(keys)}; got {field!r}")
    return keys[field], len(words) == 2 and words[1].upper() == "DESC"


# --- logged models and the model registry (filtered in memory: they are few) ---------------

T = TypeVar("T")
Clause = tuple[Callable[[T], Any], bool]

LOGGED_MODEL_KEYS: Final = KeySpace(
    "logged models",
    frozenset({"attribute", "metric", "param", "tag"}),
    frozenset(
        {
            "name",
            "model_id",
            "model_type",
            "source_run_id",
            "status",
            "creation_timestamp",
            "last_updated_timestamp",
        }
    ),
    numeric=frozenset({"creation_timestamp", "last_updated_timestamp"}),
    aliases={
        "creation_time": "creation_timestamp",
        "creation_timestamp_ms": "creation_timestamp",
        "last_updated_timestamp_ms": "last_updated_timestamp",
    },
)
REGISTERED_MODEL_KEYS: Final = KeySpace(
    "registered models",
    frozenset({"attribute", "tag"}),
    frozenset({"name", "creation_timestamp", "last_updated_timestamp"}),
    numeric=frozenset({"creation_timestamp", "last_updated_timestamp"}),
)
MODEL_VERSION_KEYS: Final = KeySpace(
    "model versions",
    frozenset({"attribute", "tag"}),
    frozenset(
        {
            "name",
            "version_number",
            "run_id",
            "source_path",
            "creation_timestamp",
            "last_updated_timestamp",
        }
    ),
    numeric=frozenset({"version_number", "creation_timestamp", "last_updated_timestamp"}),
)


def _datasets_match(metric: ModelMetricInfo, datasets: Sequence[tuple[str, str | None]]) -> bool:
    return not datasets or any(
        metric.dataset_name == name and (digest is None or metric.dataset_digest == digest)
        for name, digest in datasets
    )


def logged_model_filter(
    text: str, datasets: Sequence[tuple[str, str | None]] = ()
) -> Callable[[LoggedModelInfo, Sequence[ModelMetricInfo]], bool]:
    """A predicate for MLflow's logged-model search: attributes (``model_id IN (...)``,
    ``name``, ``source_run_id``, ...), ``metrics.`` (some point of the model, in *datasets*
    if given, matches), ``params.`` and ``tags.``."""
    parsed = parse_mlflow(text, LOGGED_MODEL_KEYS, "logged model filter")

    def matches(model: LoggedModelInfo, metrics: Sequence[ModelMetricInfo]) -> bool:
        metrics = [m for m in metrics if _datasets_match(m, datasets)]
        if datasets and not metrics:
            return False

        def holds(comparison: Comparison) -> bool:
            key = comparison.key
            if key.type == "metric":
                values = [m.value for m in metrics if m.name == key.name]
                return any(_holds(comparison, value) for value in values)
            return _holds(comparison, _model_value(model, key))

        return evaluate(parsed, holds)

    return matches


def _model_value(model: LoggedModelInfo, key: Key) -> Any:
    if key.type == "param":
        return model.params.get(key.name)
    if key.type == "tag":
        return model.tags.get(key.name)
    if key.name == "creation_timestamp":
        return model.created_ns // _MS_TO_NS
    if key.name == "last_updated_timestamp":
        return model.updated_ns // _MS_TO_NS
    return getattr(model, key.name)


def logged_model_sort_key(
    field: str, dataset: tuple[str | None, str | None]
) -> Callable[[LoggedModelInfo, Sequence[ModelMetricInfo]], Any]:
    """The sort key of one logged-model order-by field: an attribute or ``metrics.<name>``
    (the model's newest point of that metric, in the dataset if given)."""
    if "." not in field:
        name = LOGGED_MODEL_KEYS.aliases.get(field, field)
        if name not in LOGGED_MODEL_KEYS.names:
            raise invalid(f"Invalid order by field name: {field}")
        key = Key("attribute", name)
        return lambda model, _: _model_value(model, key)
    entity, metric = field.split(".", 1)
    if entity != "metrics":
        raise invalid(f"Invalid order by field name: {field}. Only metrics are supported.")
    dataset_name, digest = dataset
    datasets = [] if dataset_name is None else [(dataset_name, digest)]

    def newest(model: LoggedModelInfo, metrics: Sequence[ModelMetricInfo]) -> Any:
        points = [m for m in metrics if m.name == metric and _datasets_match(m, datasets)]
        if not points:
            return None
        return max(points, key=lambda m: (m.time_ns, m.step)).value

    return newest


#: The tag that marks MLflow prompts, which the registry keeps beside models.
PROMPT_TAG: Final = "mlflow.prompt.is_prompt"


def _without_prompt_clause(parsed: Filter) -> tuple[Filter, bool]:
    """*parsed* without its comparison on `PROMPT_TAG`, and whether prompts are wanted.

    As mlflow server: searches find models only, unless the filter asks for prompts
    (``tags.`mlflow.prompt.is_prompt` = 'true'``); MLflow's client adds
    ``tag.`mlflow.prompt.is_prompt` != 'true'`` to model searches, which a model without
    the tag must pass.
    """
    rest: list[Filter] = []
    prompts = False
    for term in parsed.terms if isinstance(parsed, And) else (parsed,):
        if isinstance(term, Comparison) and term.key == Key("tag", PROMPT_TAG):
            value = str(term.value).lower()
            prompts = (term.op, value) in (("=", "true"), ("!=", "false"))
        else:
            rest.append(term)
    return conjoin(*rest), prompts


def _is_prompt(tags: Mapping[str, str]) -> bool:
    return tags.get(PROMPT_TAG, "false").lower() == "true"


def registered_model_filter(text: str) -> Callable[[RegisteredModelInfo], bool]:
    """A predicate for MLflow's registered-model search (``name``, times, ``tags.``)."""
    parsed, prompts = _without_prompt_clause(
        parse_mlflow(text, REGISTERED_MODEL_KEYS, "registered model filter")
    )

    def value(model: RegisteredModelInfo, key: Key) -> Any:
        if key.type == "tag":
            return model.tags.get(key.name)
        if key.name == "name":
            return model.name
        return (
            model.created_ns if key.name == "creation_timestamp" else model.updated_ns
        ) // _MS_TO_NS

    return lambda model: (
        _is_prompt(model.tags) == prompts
        and evaluate(parsed, lambda c: _holds(c, value(model, c.key)))
    )


def model_version_filter(
    text: str, prompt_models: frozenset[str] = frozenset()
) -> Callable[[ModelVersionInfo], bool]:
    """A predicate for MLflow's model-version search (``name``, ``run_id``,
    ``version_number``, ``source_path``, times, ``tags.``); *prompt_models* names the
    registered models that are prompts."""
    parsed, prompts = _without_prompt_clause(
        parse_mlflow(text, MODEL_VERSION_KEYS, "model version filter")
    )
    return lambda version: (
        (version.name in prompt_models) == prompts
        and evaluate(parsed, lambda c: _holds(c, _version_value(version, c.key)))
    )


def _version_value(version: ModelVersionInfo, key: Key) -> Any:
    if key.type == "tag":
        return {**version.properties, **version.tags}.get(key.name)
    return {
        "name": version.name,
        "version_number": version.version,
        "run_id": version.run_id,
        "source_path": version.source,
        "creation_timestamp": version.created_ns // _MS_TO_NS,
        "last_updated_timestamp": version.updated_ns // _MS_TO_NS,
    }[key.name]


def registry_order(
    clauses: Sequence[str], fields: Mapping[str, Callable[[T], Any]], what: str
) -> list[Clause[T]]:
    """MLflow registry order-by clauses (``name ASC``, ``version_number DESC``) as sort keys."""
    out: list[Clause[T]] = []
    seen = set()
    for clause in clauses:
        words = clause.split()
        field = words[0] if words else ""
        field = re.sub(r"^(attributes?|attr)\.", "", field.strip("`"))
        direction = words[1].upper() if len(words) > 1 else "ASC"
        if len(words) > 2 or direction not in ("ASC", "DESC") or field not in fields:
            raise invalid(
                f"Invalid order by key '{field}' specified. Valid keys are "
                f"{sorted(fields)} for {what}s, each optionally followed by ASC or DESC"
            )
        if field in seen:
            raise invalid(f"`order_by` contains duplicate fields: {list(clauses)}")
        seen.add(field)
        out.append((fields[field], direction == "DESC"))
    return out


def ordered(items: Sequence[T], clauses: Sequence[Clause[T]]) -> list[T]:
    """*items* sorted by *clauses* (first one most significant); missing values go last."""
    keyed = [(tuple(key(item) for key, _ in clauses), item) for item in items]

    def compare(a: tuple[tuple[Any, ...], T], b: tuple[tuple[Any, ...], T]) -> int:
        for (x, y), (_, descending) in zip(zip(a[0], b[0], strict=True), clauses, strict=True):
            if x == y:
                continue
            if x is None or y is None:
                return 1 if x is None else -1
            result = -1 if x < y else 1
            return -result if descending else result
        return 0

    return [item for _, item in sorted(keyed, key=cmp_to_key(compare))]
