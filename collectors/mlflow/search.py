"""MLflow's run and experiment search syntax, translated onto runlog's filter language.

MLflow filters look like runlog's (`collectors.store.filters`): ``metrics.rmse < 1 and
params.alpha = '0.5' and tags.mlflow.source.type = 'LOCAL'``. The differences handled here:
MLflow writes dotted names bare (``tags.mlflow.runName``), spells types and attributes its
own way (``parameters.``, ``attr.``, ``attributes.created``, ``attributes.user_id``), uses
``FINISHED``/``KILLED`` statuses and millisecond times, and derives the system tags
``mlflow.runName`` / ``mlflow.parentRunId`` from run columns. The text is rewritten token by
token, parsed by runlog's parser, adjusted, and written back as runlog filter text.
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
from collectors.store.filters import (
    COMPARISONS,
    Attributes,
    Comparison,
    FilterError,
    Key,
    parse_filter,
    parse_order_by,
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
_ATTRIBUTE_NAMES: Final = {"created": "start_time", "Created": "start_time", "run_name": "name"}
_BARE_ATTRIBUTES: Final = frozenset({"start_time", "end_time", "status", "run_id", "run_name"})
_IDENTIFIER = re.compile(r"([A-Za-z_]+)\.(`(?:[^`]|``)*`|\"(?:[^\"]|\"\")*\"|[\w\-/:.]+)")
_WORD = re.compile(r"[A-Za-z_]\w*")
_MS_TO_NS: Final = 1_000_000
VIEW_TYPES: Final = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": None}
_VIEW_NUMBERS: Final = {1: "ACTIVE_ONLY", 2: "DELETED_ONLY", 3: "ALL"}


def _unquote(name: str) -> str:
    if name[:1] in '`"' and name[-1:] == name[:1] and len(name) > 1:
        quote = name[0]
        return name[1:-1].replace(quote * 2, quote)
    return name


def _key_text(key_type: str, name: str) -> str:
    return f"{key_type}.`{name.replace('`', '``')}`"


def _identifier(key_type: str, name: str) -> str:
    """One MLflow identifier as runlog filter text."""
    plural = _TYPES.get(key_type.lower())
    if plural is None:
        raise invalid(
            f"unsupported key type {key_type!r} in the filter; expected metrics., params., "
            "tags. or attributes. (dataset filters are not supported by this server)"
        )
    if plural == "attributes":
        if name == "user_id":
            return _key_text("properties", USER_PROPERTY)
        return f"attributes.{_ATTRIBUTE_NAMES.get(name, name)}"
    if plural == "tags" and name == RUN_NAME_TAG:
        return "attributes.name"
    if plural == "tags" and name == PARENT_RUN_TAG:
        return "attributes.parent_id"
    return _key_text(plural, name)


def rewrite(text: str, bare: Callable[[str], str | None] = lambda word: None) -> str:
    """Rewrite MLflow identifiers in *text* to runlog's, leaving quoted strings alone.

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


def _adjusted(comparison: Comparison) -> Comparison:
    key, value = comparison.key, comparison.value
    if isinstance(value, tuple):
        values = tuple(_adjusted_value(key, v) for v in value)
        return Comparison(key, comparison.op, values)
    return Comparison(key, comparison.op, None if value is None else _adjusted_value(key, value))


def _adjusted_value(key: Key, value: str | int | float) -> str | int | float:
    """MLflow's milliseconds and status names as runlog's nanoseconds and statuses."""
    if key.type == "attribute" and key.name in ("start_time", "end_time"):
        if isinstance(value, (int, float)):
            return int(value * _MS_TO_NS)
    elif key.type == "attribute" and key.name == "status" and isinstance(value, str):
        return STATUS_TO_RUNLOG.get(value.upper(), value)
    return value


def _comparison_text(comparison: Comparison) -> str:
    key = comparison.key
    plural = {"property": "properties"}.get(key.type, key.type + "s")
    text = f"attributes.{key.name}" if key.type == "attribute" else _key_text(plural, key.name)
    value = comparison.value
    if value is None:
        return f"{text} {comparison.op}"
    if isinstance(value, tuple):
        return f"{text} {comparison.op} ({', '.join(_literal(v) for v in value)})"
    return f"{text} {comparison.op} {_literal(value)}"


def _literal(value: str | int | float) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _parsed(text: str) -> list[Comparison]:
    try:
        return parse_filter(rewrite(text))
    except FilterError as exc:
        raise invalid(f"invalid filter {text[:200]!r}: {exc}") from None


def run_filter(text: str, view_type: Any = None) -> str:
    """An MLflow ``search_runs`` filter and run view type as runlog filter text."""
    parts = [_comparison_text(_adjusted(c)) for c in _parsed(text or "")]
    stage = VIEW_TYPES.get(_view_name(view_type), "active")
    if stage is not None:
        parts.append(f"attributes.lifecycle_stage = '{stage}'")
    return " and ".join(parts)


def _view_name(view_type: Any) -> str:
    if view_type is None or view_type == "":
        return "ACTIVE_ONLY"
    if isinstance(view_type, int) and view_type in _VIEW_NUMBERS:
        return _VIEW_NUMBERS[view_type]
    if isinstance(view_type, str) and view_type in VIEW_TYPES:
        return view_type
    raise invalid(f"run_view_type {view_type!r}: expected ACTIVE_ONLY, DELETED_ONLY or ALL")


def _bare_attribute(word: str) -> str | None:
    return f"attributes.{_ATTRIBUTE_NAMES.get(word, word)}" if word in _BARE_ATTRIBUTES else None


def run_order_by(clauses: Sequence[str]) -> list[str]:
    """MLflow order-by clauses as runlog's (checked: a bad clause is a 400)."""
    out = []
    for clause in clauses:
        text = rewrite(clause, _bare_attribute)
        try:
            parse_order_by(text)
        except FilterError as exc:
            raise invalid(f"invalid order_by clause {clause[:200]!r}: {exc}") from None
        out.append(text)
    return out


# --- experiments -----------------------------------------------------------------------------

_EXPERIMENT_WORDS: Final = {
    "name": "attributes.name",
    "creation_time": "attributes.start_time",
    "last_update_time": "attributes.end_time",
}
_EXPERIMENT_ATTRIBUTES: Final = {
    "name": "name",
    "creation_time": "start_time",
    "last_update_time": "end_time",
    "experiment_id": "run_id",
}


def _experiment_identifier(text: str) -> str:
    def bare(word: str) -> str | None:
        return _EXPERIMENT_WORDS.get(word)

    for mlflow_name, runlog_name in _EXPERIMENT_ATTRIBUTES.items():
        text = re.sub(rf"\b(attributes?|attr)\.{mlflow_name}\b", f"attributes.{runlog_name}", text)
    return rewrite(text, bare)


def experiment_filter(text: str) -> Callable[[MlflowExperiment], bool]:
    """A predicate for an MLflow ``search_experiments`` filter (name, times, tags)."""
    try:
        comparisons = parse_filter(_experiment_identifier(text or ""))
    except FilterError as exc:
        raise invalid(f"invalid experiment filter {text[:200]!r}: {exc}") from None
    for comparison in comparisons:
        if comparison.key.type not in ("attribute", "tag"):
            raise invalid(
                f"experiments can be filtered by name, times and tags, not {comparison.key}"
            )

    def matches(experiment: MlflowExperiment) -> bool:
        return all(_holds(c, _experiment_value(experiment, c.key)) for c in comparisons)

    return matches


def _experiment_value(experiment: MlflowExperiment, key: Key) -> Any:
    if key.type == "tag":
        return experiment.tags.get(key.name)
    if key.name == "name":
        return experiment.name
    if key.name == "start_time":
        return experiment.created_ns // _MS_TO_NS
    if key.name == "end_time":
        return (experiment.last_update_ns or experiment.created_ns) // _MS_TO_NS
    raise invalid(f"experiments have no attribute {key.name!r}; use name, creation_time, tags")


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

LOGGED_MODEL_ATTRIBUTES: Final = Attributes(
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
REGISTERED_MODEL_ATTRIBUTES: Final = Attributes(
    frozenset({"name", "creation_timestamp", "last_updated_timestamp"}),
    numeric=frozenset({"creation_timestamp", "last_updated_timestamp"}),
)
MODEL_VERSION_ATTRIBUTES: Final = Attributes(
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


def _parsed_with(text: str, attributes: Attributes, what: str, types: str) -> list[Comparison]:
    """*text* parsed with *attributes*; bare attribute names need no ``attributes.``."""

    def bare(word: str) -> str | None:
        known = word in attributes.names or word in attributes.aliases
        return f"attributes.{attributes.aliases.get(word, word)}" if known else None

    try:
        comparisons = parse_filter(rewrite(text or "", bare), attributes)
    except FilterError as exc:
        raise invalid(f"invalid {what} filter {text[:200]!r}: {exc}") from None
    for comparison in comparisons:
        if comparison.key.type not in types.split():
            names = ", ".join(sorted(attributes.names))
            raise invalid(
                f"{what}s can be filtered by {names} and {', '.join(types.split()[1:])}s; "
                f"not {comparison.key}"
            )
    return comparisons


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
    comparisons = _parsed_with(
        text, LOGGED_MODEL_ATTRIBUTES, "logged model", "attribute metric param tag"
    )

    def matches(model: LoggedModelInfo, metrics: Sequence[ModelMetricInfo]) -> bool:
        metrics = [m for m in metrics if _datasets_match(m, datasets)]
        if datasets and not metrics:
            return False
        for comparison in comparisons:
            key = comparison.key
            if key.type == "metric":
                values = [m.value for m in metrics if m.name == key.name]
                if not any(_holds(comparison, value) for value in values):
                    return False
            elif not _holds(comparison, _model_value(model, key)):
                return False
        return True

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
        name = LOGGED_MODEL_ATTRIBUTES.aliases.get(field, field)
        if name not in LOGGED_MODEL_ATTRIBUTES.names:
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


def _without_prompt_clause(comparisons: list[Comparison]) -> tuple[list[Comparison], bool]:
    """The comparisons without the one on `PROMPT_TAG`, and whether prompts are wanted.

    As mlflow server: searches find models only, unless the filter asks for prompts
    (``tags.`mlflow.prompt.is_prompt` = 'true'``); MLflow's client adds
    ``tag.`mlflow.prompt.is_prompt` != 'true'`` to model searches, which a model without
    the tag must pass.
    """
    rest, prompts = [], False
    for comparison in comparisons:
        if comparison.key == Key("tag", PROMPT_TAG):
            value = str(comparison.value).lower()
            prompts = (comparison.op, value) in (("=", "true"), ("!=", "false"))
        else:
            rest.append(comparison)
    return rest, prompts


def _is_prompt(tags: Mapping[str, str]) -> bool:
    return tags.get(PROMPT_TAG, "false").lower() == "true"


def registered_model_filter(text: str) -> Callable[[RegisteredModelInfo], bool]:
    """A predicate for MLflow's registered-model search (``name``, times, ``tags.``)."""
    comparisons, prompts = _without_prompt_clause(
        _parsed_with(text, REGISTERED_MODEL_ATTRIBUTES, "registered model", "attribute tag")
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
        and all(_holds(c, value(model, c.key)) for c in comparisons)
    )


def model_version_filter(
    text: str, prompt_models: frozenset[str] = frozenset()
) -> Callable[[ModelVersionInfo], bool]:
    """A predicate for MLflow's model-version search (``name``, ``run_id``,
    ``version_number``, ``source_path``, times, ``tags.``); *prompt_models* names the
    registered models that are prompts."""
    comparisons, prompts = _without_prompt_clause(
        _parsed_with(text, MODEL_VERSION_ATTRIBUTES, "model version", "attribute tag")
    )
    return lambda version: (
        (version.name in prompt_models) == prompts
        and all(_holds(c, _version_value(version, c.key)) for c in comparisons)
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
