"""The run filter language (MLflow style) and order-by clauses, parsed into a small AST.

Pure: text in, `Comparison` / `OrderBy` values out, or a `FilterError` that says what was
wrong, where (1-based position) and what was expected::

    metrics.mse < 3000 and params.alpha = '0.5' and tags.`my tag` LIKE 'ye%'
    attributes.end_time IS NOT NULL

Grammar: ``comparison (AND comparison)*``; a comparison is ``key op value``,
``key IS [NOT] NULL`` or ``key [NOT] IN (value, ...)``. Keys are ``<type>.<name>`` with
type ``metrics``, ``params``, ``tags``, ``properties`` or ``attributes`` (singular forms
are accepted too); names with spaces, dots or other punctuation go in backticks (or double
quotes). Metrics and the
attributes ``start_time`` / ``end_time`` compare with numbers, everything else with quoted
strings (single or double quotes; double the quote to include it). ``LIKE`` / ``ILIKE``
(``%`` wildcard) work on strings. ``IN`` / ``NOT IN`` take a parenthesised, non-empty
list of values of the key's type: ``attributes.run_id IN ('a1', 'b2')``. Keywords are
case-insensitive.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

from runlog import conventions as cv

__all__ = [
    "RUN_ATTRIBUTES",
    "Attributes",
    "Comparison",
    "FilterError",
    "Key",
    "OrderBy",
    "parse_filter",
    "parse_order_by",
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
ATTRIBUTES: Final = frozenset(
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
)
NUMERIC_ATTRIBUTES: Final = frozenset({"start_time", "end_time"})
#: The comparison operators and what they do: on Python values, and on SQLAlchemy
#: expressions alike (their operators build SQL), so the store and the in-memory MLflow
#: experiment filter share them.
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

_WORD = re.compile(r"[A-Za-z_]+")
_BARE_NAME = re.compile(r"[A-Za-z0-9_\-/:]+")
_SYMBOL_OP = re.compile(r"<=|>=|!=|=|<|>")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_KEY_EXPECTED = "a key such as metrics.mse, params.alpha, tags.team or attributes.status"
_OP_EXPECTED = "an operator: =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL or IS NOT NULL"
_LIST_EXPECTED = "a list in parentheses, e.g. ('a', 'b') or (1, 2)"


class FilterError(ValueError):
    """A filter or order-by clause is malformed; the message says where and what to write."""


@dataclass(frozen=True, slots=True)
class Attributes:
    """The attribute names a filter may use, those that compare as numbers, and aliases."""

    names: frozenset[str]
    numeric: frozenset[str] = frozenset()
    aliases: Mapping[str, str] = field(default_factory=dict)


#: The attributes of runs (``run_name`` is MLflow's spelling of ``name``).
RUN_ATTRIBUTES: Final = Attributes(ATTRIBUTES, NUMERIC_ATTRIBUTES, {"run_name": "name"})


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
        return f"{self.type}s.{self.name}" if self.type != "property" else f"properties.{self.name}"


@dataclass(frozen=True, slots=True)
class Comparison:
    """``op`` is one of `COMPARISONS`, ``LIKE``, ``ILIKE``, ``IN``, ``NOT IN``, ``IS NULL``
    or ``IS NOT NULL``; ``value`` is a tuple for ``IN`` / ``NOT IN`` and None for ``IS``."""

    key: Key
    op: str
    value: str | int | float | tuple[str | int | float, ...] | None


@dataclass(frozen=True, slots=True)
class OrderBy:
    key: Key
    ascending: bool


def parse_filter(text: str, attributes: Attributes = RUN_ATTRIBUTES) -> list[Comparison]:
    """Parse a filter; an empty or blank filter matches everything (``[]``).

    Args:
        text: the filter.
        attributes: what ``attributes.<name>`` may name (runs' attributes by default).

    Raises:
        FilterError: the filter is malformed.
    """
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(
            f"filter is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}"
        )
    parser = _Parser(text, attributes)
    if parser.at_end():
        return []
    comparisons = [parser.comparison()]
    while not parser.at_end():
        parser.keyword("AND", "'and' or the end of the filter")
        comparisons.append(parser.comparison())
    return comparisons


def parse_order_by(text: str, attributes: Attributes = RUN_ATTRIBUTES) -> OrderBy:
    """Parse one order-by clause, e.g. ``metrics.mse ASC`` (ascending unless ``DESC``).

    Raises:
        FilterError: the clause is malformed.
    """
    parser = _Parser(text, attributes)
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

    def __init__(self, text: str, attributes: Attributes) -> None:
        self.text = text
        self.pos = 0
        self.attributes = attributes

    def fail(self, problem: str, expected: str, back: int = 0) -> NoReturn:
        pos = self.pos - back
        near = repr(self.text[pos : pos + 20]) if pos < len(self.text) else "the end"
        raise FilterError(f"{problem} at position {pos + 1} (near {near}); expected {expected}")

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
            self.fail("missing key", _KEY_EXPECTED)
        prefix = self.match(_WORD)
        if prefix is None:
            self.fail("unexpected text", _KEY_EXPECTED)
        key_type = KEY_TYPES.get(prefix.lower())
        if key_type is None:
            self.fail(f"unknown key type {prefix!r}", _KEY_EXPECTED, back=len(prefix))
        if not self.text.startswith(".", self.pos):
            self.fail(f"missing '.' after {prefix!r}", f"'{prefix}.<name>'")
        self.pos += 1
        name = self.name()
        if key_type != "attribute":
            return Key(key_type, name)
        name = self.attribute(name)
        return Key(key_type, name, name in self.attributes.numeric)

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
        name = self.attributes.aliases.get(name, name)
        if name not in self.attributes.names:
            expected = "one of " + ", ".join(sorted(self.attributes.names))
            self.fail(f"unknown attribute {name!r}", expected, back=len(name))
        return name

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
