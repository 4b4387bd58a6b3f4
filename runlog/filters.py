"""The filter language (MLflow style) of run searches, parsed into a small tree.

Pure: text in, a `Filter` (`Comparison`, `And`, `Or`) or `OrderBy` out, or a `FilterError`
that says what was wrong, where (1-based position) and what was expected::

    metrics.mse < 3000 and params.alpha = '0.5' and tags.`my tag` LIKE 'ye%'
    attributes.end_time IS NOT NULL
    (params.model = 'svm' or params.model = 'knn') and metrics.acc > 0.9

Grammar: ``term ((AND | OR) term)*`` where AND binds tighter than OR and a term is a
comparison or a filter in parentheses. A comparison is ``key op value``,
``key IS [NOT] NULL`` or ``key [NOT] IN (value, ...)``. Keys are ``<type>.<name>``; which
types and attribute names exist depends on what is searched (its `KeySpace`; runs by
default: ``metrics``, ``params``, ``tags``, ``properties`` or ``attributes``, singular
forms accepted too). Names with spaces, dots or other punctuation go in backticks (or double
quotes). Metrics and numeric attributes (for runs ``start_time`` / ``end_time``) compare with
numbers, everything else with quoted strings (single or double quotes; double the quote to
include it: `quote` writes one). ``LIKE`` / ``ILIKE`` (``%`` wildcard) work on strings.
``IN`` / ``NOT IN`` take a parenthesised, non-empty list of values of the key's type:
``attributes.run_id IN ('a1', 'b2')``. Keywords are case-insensitive.

Layers pass the parsed `Filter` on (the query API to the store, the MLflow API to the
store), so a filter is parsed once, where its text arrives.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn, TypeAlias

from runlog import conventions as cv

__all__ = [
    "MATCH_ALL",
    "RUN_KEYS",
    "And",
    "Comparison",
    "Filter",
    "FilterError",
    "Key",
    "KeySpace",
    "Or",
    "OrderBy",
    "children_of",
    "comparisons",
    "conjoin",
    "evaluate",
    "map_comparisons",
    "parse_filter",
    "parse_order_by",
    "quote",
    "quote_name",
]

KEY_TYPES: Final = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "properties": "property",
    "property": "property",
    "attributes": "attribute",
    "attribute": "attribute",
}
#: The comparison operators and what they do: on Python values, and on SQLAlchemy
#: expressions alike (their operators build SQL), so the store and the in-memory MLflow
#: filters share them.
COMPARISONS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
LIST_OPERATORS: Final = ("IN", "NOT IN")
MAX_FILTER_LENGTH: Final = 10_000
#: Parentheses nest at most this deep (a filter is typed by a person, not generated).
MAX_DEPTH: Final = 50

_WORD = re.compile(r"[A-Za-z_]+")
_BARE_NAME = re.compile(r"[A-Za-z0-9_\-/:]+")
_SYMBOL_OP = re.compile(r"<=|>=|!=|=|<|>")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_OP_EXPECTED = "an operator: =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL or IS NOT NULL"
_LIST_EXPECTED = "a list in parentheses, e.g. ('a', 'b') or (1, 2)"
_PLURALS: Final = {
    "metric": "metrics",
    "param": "params",
    "tag": "tags",
    "property": "properties",
    "attribute": "attributes",
}


class FilterError(ValueError):
    """A filter or order-by clause is malformed; the message says where and what to write."""


@dataclass(frozen=True, slots=True)
class KeySpace:
    """The keys a filter on one kind of thing (runs, experiments, logged models) may use.

    Each searched entity has its own: an experiment filter cannot name a run's attributes.

    Attributes:
        entity: what is searched, plural, for messages ("runs", "experiments").
        types: the key types it has (``metric``, ``param``, ``tag``, ``property``,
            ``attribute``).
        names: its attribute names.
        numeric: the attributes that compare as numbers.
        aliases: other spellings of attribute names.
    """

    entity: str
    types: frozenset[str]
    names: frozenset[str]
    numeric: frozenset[str] = frozenset()
    aliases: Mapping[str, str] = field(default_factory=dict)

    def example(self) -> str:
        """Example keys for messages, e.g. "a key such as metrics.mse or attributes.name"."""
        attribute = "status" if "status" in self.names else min(self.names, default="name")
        samples = {"metric": "metrics.mse", "param": "params.alpha", "tag": "tags.team"}
        samples["attribute"] = f"attributes.{attribute}"
        found = [samples[t] for t in ("metric", "param", "tag", "attribute") if t in self.types]
        listed = ", ".join(found[:-1]) + " or " + found[-1] if len(found) > 1 else found[0]
        return "a key such as " + listed


#: The keys of runs (``run_name`` is MLflow's spelling of ``name``).
RUN_KEYS: Final = KeySpace(
    "runs",
    frozenset(KEY_TYPES.values()),
    frozenset(
        {
            "status",
            "name",
            "run_id",
            "experiment",
            "parent_id",
            "start_time",
            "end_time",
            "lifecycle_stage",
        }
    ),
    frozenset({"start_time", "end_time"}),
    {"run_name": "name"},
)


@dataclass(frozen=True, slots=True)
class Key:
    """``type`` is ``metric``, ``param``, ``tag``, ``property`` or ``attribute``;
    ``numeric_attribute`` marks an attribute that compares with numbers."""

    type: str
    name: str
    numeric_attribute: bool = field(default=False, compare=False)  # set by the parser

    @property
    def numeric(self) -> bool:
        """Whether the key compares with numbers (metrics and numeric attributes)."""
        return self.type == "metric" or self.numeric_attribute

    def __str__(self) -> str:
        return f"{_PLURALS[self.type]}.{self.name}"


Value: TypeAlias = str | int | float


@dataclass(frozen=True, slots=True)
class Comparison:
    """``op`` is one of `COMPARISONS`, ``LIKE``, ``ILIKE``, ``IN``, ``NOT IN``, ``IS NULL``
    or ``IS NOT NULL``; ``value`` is a tuple for ``IN`` / ``NOT IN`` and None for ``IS``."""

    key: Key
    op: str
    value: Value | tuple[Value, ...] | None


@dataclass(frozen=True, slots=True)
class And:
    """Every term holds (no terms: everything matches)."""

    terms: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one term holds."""

    terms: tuple[Filter, ...]


Filter: TypeAlias = Comparison | And | Or
#: The empty filter: matches everything.
MATCH_ALL: Final = And(())


@dataclass(frozen=True, slots=True)
class OrderBy:
    key: Key
    ascending: bool


def quote(value: str) -> str:
    """*value* as a string literal of the filter language: ``o'brien`` -> ``'o''brien'``."""
    return "'" + str(value).replace("'", "''") + "'"


def quote_name(name: str) -> str:
    """*name* as a key name in backticks: ``my tag`` -> ``\\`my tag\\```."""
    return "`" + name.replace("`", "``") + "`"


def children_of(run_id: str) -> str:
    """The filter text for the child runs of *run_id*."""
    return f"attributes.parent_id = {quote(run_id)}"


def comparisons(filter: Filter) -> Iterator[Comparison]:
    """Every comparison in *filter*, left to right."""
    if isinstance(filter, Comparison):
        yield filter
        return
    for term in filter.terms:
        yield from comparisons(term)


def map_comparisons(filter: Filter, change: Callable[[Comparison], Filter]) -> Filter:
    """*filter* with each comparison replaced by ``change(comparison)``."""
    if isinstance(filter, Comparison):
        return change(filter)
    return type(filter)(tuple(map_comparisons(term, change) for term in filter.terms))


def conjoin(*filters: Filter) -> Filter:
    """All of *filters* must hold (nested ANDs flattened, empty ones dropped)."""
    terms: list[Filter] = []
    for part in filters:
        terms.extend(part.terms if isinstance(part, And) else (part,))
    return terms[0] if len(terms) == 1 else And(tuple(terms))


def evaluate(filter: Filter, holds: Callable[[Comparison], bool]) -> bool:
    """Whether *filter* holds, given whether each comparison holds (for filters in memory)."""
    if isinstance(filter, Comparison):
        return holds(filter)
    if isinstance(filter, And):
        return all(evaluate(term, holds) for term in filter.terms)
    return any(evaluate(term, holds) for term in filter.terms)


def parse_filter(text: str, keys: KeySpace = RUN_KEYS, *, boolean: bool = True) -> Filter:
    """Parse a filter; an empty or blank filter matches everything (`MATCH_ALL`).

    Args:
        text: the filter.
        keys: the keys it may use (runs' by default).
        boolean: whether ``OR`` and parentheses are allowed (MLflow's dialect has only
            ``AND``).

    Raises:
        FilterError: the filter is malformed.
    """
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(
            f"filter is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}"
        )
    parser = _Parser(text, keys, boolean)
    if parser.at_end():
        return MATCH_ALL
    found = parser.disjunction()
    if not parser.at_end():
        parser.fail("unexpected text", parser.connectives())
    return found


def parse_order_by(text: str, keys: KeySpace = RUN_KEYS) -> OrderBy:
    """Parse one order-by clause, e.g. ``metrics.mse ASC`` (ascending unless ``DESC``).

    Raises:
        FilterError: the clause is malformed.
    """
    parser = _Parser(text, keys, boolean=False)
    key = parser.key()
    ascending = True
    if not parser.at_end():
        direction = parser.word("ASC or DESC").upper()
        if direction not in ("ASC", "DESC"):
            parser.fail(f"unknown sort direction {direction!r}", "ASC or DESC", back=len(direction))
        ascending = direction == "ASC"
    if not parser.at_end():
        parser.fail("unexpected text after the order-by clause", "the end of the clause")
    return OrderBy(key, ascending)


class _Parser:
    """A cursor over the text with one method per grammar rule."""

    def __init__(self, text: str, keys: KeySpace, boolean: bool) -> None:
        self.text = text
        self.pos = 0
        self.keys = keys
        self.boolean = boolean
        self.depth = 0

    def fail(self, problem: str, expected: str, back: int = 0) -> NoReturn:
        pos = self.pos - back
        near = repr(self.text[pos : pos + 20]) if pos < len(self.text) else "the end"
        raise FilterError(f"{problem} at position {pos + 1} (near {near}); expected {expected}")

    def connectives(self) -> str:
        """What may follow a comparison, for messages."""
        closing = "')'" if self.depth else "the end of the filter"
        return f"'and', 'or' or {closing}" if self.boolean else f"'and' or {closing}"

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)

    def match(self, pattern: re.Pattern[str]) -> str | None:
        self.skip_space()
        found = pattern.match(self.text, self.pos)
        if found is None:
            return None
        self.pos = found.end()
        return found.group()

    def word(self, expected: str) -> str:
        word = self.match(_WORD)
        if word is None:
            self.fail("missing word", expected)
        return word

    def keyword(self, keyword: str, expected: str) -> None:
        word = self.match(_WORD)
        if word is None or word.upper() != keyword:
            self.fail("unexpected text", expected, back=len(word or ""))

    def next_is(self, keyword: str) -> bool:
        """Consume *keyword* if it comes next."""
        start = self.pos
        word = self.match(_WORD)
        if word is not None and word.upper() == keyword:
            return True
        self.pos = start
        return False

    def disjunction(self) -> Filter:
        terms = [self.conjunction()]
        while self.boolean and self.next_is("OR"):
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def conjunction(self) -> Filter:
        terms = [self.term()]
        while self.next_is("AND"):
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def term(self) -> Filter:
        self.skip_space()
        if not (self.boolean and self.text.startswith("(", self.pos)):
            return self.comparison()
        if self.depth >= MAX_DEPTH:
            self.fail("parentheses nested too deep", f"at most {MAX_DEPTH} levels")
        self.pos += 1
        self.depth += 1
        inner = self.disjunction()
        if self.at_end():
            self.fail("unclosed parenthesis", "')'")
        if not self.text.startswith(")", self.pos):
            self.fail("unexpected text", self.connectives())
        self.pos += 1
        self.depth -= 1
        return inner

    def comparison(self) -> Comparison:
        key = self.key()
        op = self.operator()
        if op in ("IS NULL", "IS NOT NULL"):
            return Comparison(key, op, None)
        if op in LIST_OPERATORS:
            return Comparison(key, op, self.value_list(key, op))
        self.skip_space()
        start = self.pos
        value = self.value()
        _check_types(key, op, value, self.text, start)
        return Comparison(key, op, value)

    def key(self) -> Key:
        if self.at_end():
            self.fail("missing key", self.keys.example())
        prefix = self.match(_WORD)
        if prefix is None:
            self.fail("unexpected text", self.keys.example())
        key_type = KEY_TYPES.get(prefix.lower())
        if key_type is None:
            self.fail(f"unknown key type {prefix!r}", self.keys.example(), back=len(prefix))
        if key_type not in self.keys.types:
            problem = f"{self.keys.entity} have no {_PLURALS[key_type]}"
            self.fail(problem, self.keys.example(), back=len(prefix))
        if not self.text.startswith(".", self.pos):
            self.fail(f"missing '.' after {prefix!r}", f"'{prefix}.<name>'")
        self.pos += 1
        name = self.name()
        if key_type != "attribute":
            return Key(key_type, name)
        name = self.attribute(name)
        return Key(key_type, name, name in self.keys.numeric)

    def name(self) -> str:
        quote = self.text[self.pos : self.pos + 1]
        if quote in ("`", '"'):
            return self.quoted(quote, "name")
        found = _BARE_NAME.match(self.text, self.pos)
        if found is None:
            self.fail("missing name", "a name; put names with spaces or dots in `backticks`")
        self.pos = found.end()
        if self.text.startswith(".", self.pos):
            self.fail("a dot inside a name", "a name in backticks, e.g. metrics.`a.b`")
        return found.group()

    def attribute(self, name: str) -> str:
        canonical = self.keys.aliases.get(name, name)
        if canonical not in self.keys.names:
            expected = "one of " + ", ".join(sorted(self.keys.names))
            self.fail(f"{self.keys.entity} have no attribute {name!r}", expected, back=len(name))
        return canonical

    def quoted(self, quote: str, what: str) -> str:
        start = self.pos
        parts, self.pos = [], self.pos + 1
        while True:
            end = self.text.find(quote, self.pos)
            if end < 0:
                self.pos = start
                self.fail(f"unterminated {what}", f"a closing {quote}")
            parts.append(self.text[self.pos : end])
            self.pos = end + 1
            if not self.text.startswith(quote, self.pos):  # a doubled quote stands for itself
                return quote.join(parts)
            self.pos += 1

    def operator(self) -> str:
        symbol = self.match(_SYMBOL_OP)
        if symbol is not None:
            return symbol
        word = (self.match(_WORD) or "").upper()
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT":
            self.keyword("IN", "IN after NOT")
            return "NOT IN"
        if word == "IS":
            negated = (self.match(_WORD) or "").upper()
            if negated == "NOT":
                self.keyword("NULL", "NULL after IS NOT")
                return "IS NOT NULL"
            if negated != "NULL":
                self.fail("unexpected text", "NULL or NOT NULL after IS", back=len(negated))
            return "IS NULL"
        self.fail("missing operator", _OP_EXPECTED, back=len(word))

    def value(self) -> str | int | float:
        self.skip_space()
        quote = self.text[self.pos : self.pos + 1]
        if quote in ("'", '"'):
            return self.quoted(quote, "string")
        number = self.match(_NUMBER)
        if number is None:
            self.fail("missing value", "a quoted string ('text') or a number")
        if not re.fullmatch(r"[+-]?\d+", number):
            return float(number)
        integer = int(number)
        # Past int64 no database column can hold it; as a float it still compares.
        return integer if cv.INT64_MIN <= integer <= cv.INT64_MAX else float(integer)

    def value_list(self, key: Key, op: str) -> tuple[str | int | float, ...]:
        """``( value [, value]* )`` after IN / NOT IN, each value checked against *key*."""
        self.skip_space()
        if not self.text.startswith("(", self.pos):
            self.fail(f"missing '(' after {op}", _LIST_EXPECTED)
        self.pos += 1
        values: list[str | int | float] = []
        while True:
            self.skip_space()
            if self.text.startswith(")", self.pos) and not values:
                self.fail(f"empty list after {op}", "at least one value")
            start = self.pos
            value = self.value()
            _check_types(key, op, value, self.text, start)
            values.append(value)
            self.skip_space()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif self.text.startswith(")", self.pos):
                self.pos += 1
                return tuple(values)
            else:
                self.fail(f"unterminated list after {op}", "',' or ')'")


def _check_types(key: Key, op: str, value: str | int | float, text: str, pos: int) -> None:
    """Refuse a value of the wrong type for its key, or LIKE on a number."""
    problem, expected = None, ""
    if op in ("LIKE", "ILIKE") and key.numeric:
        problem, expected = f"{op} on the numeric key {key}", "=, !=, <, <=, > or >="
    elif key.numeric and isinstance(value, str):
        problem, expected = f"{key} compared with a string", "a number, e.g. 3000 or 0.5"
    elif not key.numeric and not isinstance(value, str):
        problem, expected = f"{key} compared with a number", f"a quoted string, e.g. '{value}'"
    if problem is not None:
        near = repr(text[pos : pos + 20])
        raise FilterError(f"{problem} at position {pos + 1} (near {near}); expected {expected}")
