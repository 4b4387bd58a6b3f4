"""The filter language (`runlog.filters`): a table of valid filters and a table of errors."""

from __future__ import annotations

import pytest

from runlog.filters import (
    MATCH_ALL,
    RUN_KEYS,
    And,
    Comparison,
    Filter,
    FilterError,
    Key,
    KeySpace,
    Or,
    OrderBy,
    comparisons,
    conjoin,
    evaluate,
    parse_filter,
    parse_order_by,
    quote,
    quote_name,
)

M, P, T = Key("metric", "mse"), Key("param", "alpha"), Key("tag", "team")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("   ", []),
        ("metrics.mse < 3000", [Comparison(M, "<", 3000)]),
        ("metrics.mse<=0.5", [Comparison(M, "<=", 0.5)]),
        ("metrics.mse > -1e3", [Comparison(M, ">", -1000.0)]),
        ("metrics.mse >= .5", [Comparison(M, ">=", 0.5)]),
        ("metrics.mse = 2", [Comparison(M, "=", 2)]),
        ("metrics.mse != 2", [Comparison(M, "!=", 2)]),
        ("params.alpha = '0.5'", [Comparison(P, "=", "0.5")]),
        ('params.alpha = "0.5"', [Comparison(P, "=", "0.5")]),
        ("params.alpha = 'it''s'", [Comparison(P, "=", "it's")]),
        ("tags.team LIKE 'ml-%'", [Comparison(T, "LIKE", "ml-%")]),
        ("tags.team ilike 'ML%'", [Comparison(T, "ILIKE", "ML%")]),
        ("tags.team IS NULL", [Comparison(T, "IS NULL", None)]),
        ("tags.team is not null", [Comparison(T, "IS NOT NULL", None)]),
        ("metrics.`Cosine Wave` < 1", [Comparison(Key("metric", "Cosine Wave"), "<", 1)]),
        ("metrics.`a.b` < 1", [Comparison(Key("metric", "a.b"), "<", 1)]),
        ('metrics."a b" < 1', [Comparison(Key("metric", "a b"), "<", 1)]),
        ("metrics.train/loss < 1", [Comparison(Key("metric", "train/loss"), "<", 1)]),
        ("metric.mse < 1", [Comparison(M, "<", 1)]),
        ("properties.x = 'y'", [Comparison(Key("property", "x"), "=", "y")]),
        (
            "attributes.status = 'Completed'",
            [Comparison(Key("attribute", "status"), "=", "Completed")],
        ),
        ("attributes.run_name = 'a'", [Comparison(Key("attribute", "name"), "=", "a")]),
        ("attributes.start_time > 5", [Comparison(Key("attribute", "start_time"), ">", 5)]),
        ("params.alpha IN ('0.5')", [Comparison(P, "IN", ("0.5",))]),
        ("params.alpha in('a','b' , \"c\")", [Comparison(P, "IN", ("a", "b", "c"))]),
        ("tags.team NOT IN ('x', 'y')", [Comparison(T, "NOT IN", ("x", "y"))]),
        ("metrics.mse not in (1, 2.5)", [Comparison(M, "NOT IN", (1, 2.5))]),
        (
            "attributes.run_id IN ('a1', 'b2') and metrics.mse < 1",
            [
                Comparison(Key("attribute", "run_id"), "IN", ("a1", "b2")),
                Comparison(M, "<", 1),
            ],
        ),
        (
            "metrics.mse < 3000 and params.alpha = '0.5' AND tags.team = 'x'",
            [Comparison(M, "<", 3000), Comparison(P, "=", "0.5"), Comparison(T, "=", "x")],
        ),
    ],
)
def test_parse_filter(text: str, expected: list[Comparison]) -> None:
    """A filter of comparisons joined by AND: one comparison alone, several in an `And`."""
    tree: Filter = expected[0] if len(expected) == 1 else And(tuple(expected))
    assert tree == parse_filter(text)


@pytest.mark.parametrize(
    ("text", "problem", "expected"),
    [
        ("mse < 3", "unknown key type 'mse' at position 1", "a key such as metrics.mse"),
        ("metrics < 3", "missing '.' after 'metrics' at position 8", "'metrics.<name>'"),
        ("foo.x = 1", "unknown key type 'foo' at position 1", "a key such as metrics.mse"),
        ("metrics.a.b < 3", "a dot inside a name at position 10", "metrics.`a.b`"),
        ("metrics. = 3", "missing name at position 9", "`backticks`"),
        ("metrics.`a b < 3", "unterminated name at position 9", "a closing `"),
        ("metrics.x ~ 3", "missing operator at position 11", "IS NOT NULL"),
        ("metrics.x == 3", "missing value at position 12", "a quoted string"),
        ("metrics.x < 'a'", "metrics.x compared with a string at position 13", "a number"),
        ("params.a = 3", "params.a compared with a number at position 12", "a quoted string"),
        ("metrics.x LIKE 'a%'", "LIKE on the numeric key metrics.x at position 16", "="),
        ("tags.a = 'abc", "unterminated string at position 10", "a closing '"),
        ("attributes.colour = 'x'", "runs have no attribute 'colour' at position 12", "start_time"),
        ("metrics.x < 3 xor metrics.y < 3", "unexpected text at position 15", "'and', 'or'"),
        ("metrics.x < 3 or", "missing key at position 17 (near the end)", "a key"),
        ("(metrics.x < 3", "unclosed parenthesis at position 15", "')'"),
        ("(metrics.x < 3 tags.a = 'b')", "unexpected text at position 16", "'or' or ')'"),
        ("metrics.x < 3)", "unexpected text at position 14", "or the end of the filter"),
        ("()", "unexpected text at position 2", "a key such as"),
        ("metrics.x < 3 and", "missing key at position 18 (near the end)", "a key"),
        ("tags.a IS nothing", "unexpected text at position 11", "NULL or NOT NULL after IS"),
        ("tags.a IS NOT 'x'", "unexpected text at position 15", "NULL after IS NOT"),
        ("tags.a = ", "missing value at position 10", "a quoted string"),
        ("tags.a IN 'x'", "missing '(' after IN at position 11", "a list in parentheses"),
        ("tags.a IN ()", "empty list after IN at position 12", "at least one value"),
        ("tags.a IN ('x' 'y')", "unterminated list after IN at position 16", "',' or ')'"),
        ("tags.a IN ('x',", "missing value at position 16 (near the end)", "a quoted string"),
        ("tags.a NOT IN ('x'", "unterminated list after NOT IN at position 19", "',' or ')'"),
        ("tags.a NOT LIKE 'x'", "unexpected text at position 12", "IN after NOT"),
        ("tags.a IN ('x', 2)", "tags.a compared with a number at position 17", "a quoted"),
        ("metrics.m IN (1, 'x')", "metrics.m compared with a string at position 18", "a number"),
    ],
)
def test_parse_filter_errors(text: str, problem: str, expected: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)

    message = str(caught.value)
    assert problem == message[: len(problem)]
    assert expected in message.split("; expected ", 1)[1]


def test_filter_error_says_what_is_expected() -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter("metrics.x ~ 3")

    assert str(caught.value) == (
        "missing operator at position 11 (near '~ 3'); expected an operator: =, !=, <, <=, >, "
        ">=, LIKE, ILIKE, IN, NOT IN, IS NULL or IS NOT NULL"
    )


def test_filter_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_filter("nonsense")


def test_overlong_filter_is_refused() -> None:
    with pytest.raises(FilterError, match="limit is 10000"):
        parse_filter("tags.a = 'x' and " * 1000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.mse", OrderBy(M, True)),
        ("metrics.mse ASC", OrderBy(M, True)),
        ("metrics.mse desc", OrderBy(M, False)),
        ("attributes.start_time DESC", OrderBy(Key("attribute", "start_time"), False)),
        ("params.`a b` asc", OrderBy(Key("param", "a b"), True)),
    ],
)
def test_parse_order_by(text: str, expected: OrderBy) -> None:
    assert expected == parse_order_by(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.mse UP", "unknown sort direction 'UP' at position 13"),
        ("metrics.mse ASC x", "unexpected text after the order-by clause at position 17"),
        ("", "missing key at position 1"),
    ],
)
def test_parse_order_by_errors(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message.replace("(", r"\(")):
        parse_order_by(text)


A, B, C = (Comparison(Key("param", name), "=", "1") for name in "abc")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.a = '1' or params.b = '1'", Or((A, B))),
        ("params.a = '1' OR params.b = '1' or params.c = '1'", Or((A, B, C))),
        # AND binds tighter than OR, as in SQL.
        ("params.a = '1' or params.b = '1' and params.c = '1'", Or((A, And((B, C))))),
        ("params.a = '1' and params.b = '1' or params.c = '1'", Or((And((A, B)), C))),
        ("(params.a = '1' or params.b = '1') and params.c = '1'", And((Or((A, B)), C))),
        ("((params.a = '1'))", A),
        ("params.a IN ('1') or (params.b = '1')", Or((Comparison(A.key, "IN", ("1",)), B))),
    ],
)
def test_or_and_parentheses(text: str, expected: Filter) -> None:
    assert expected == parse_filter(text)


def test_mlflow_dialect_has_no_or() -> None:
    """MLflow's search has only AND; `boolean=False` keeps that dialect."""
    with pytest.raises(FilterError, match="expected 'and' or the end of the filter"):
        parse_filter("params.a = '1' or params.b = '1'", boolean=False)
    with pytest.raises(FilterError, match="unexpected text at position 1"):
        parse_filter("(params.a = '1')", boolean=False)


def test_deep_parentheses_are_refused() -> None:
    with pytest.raises(FilterError, match="nested too deep"):
        parse_filter("(" * 60 + "params.a = '1'" + ")" * 60)


@pytest.mark.parametrize("value", ["o'brien", "", "''", 'say "hi"', "a\\b", "%_"])
def test_quote_round_trips(value: str) -> None:
    """What `quote` writes parses back to the same string."""
    assert Comparison(Key("tag", "owner"), "=", value) == parse_filter(
        f"tags.owner = {quote(value)}"
    )


@pytest.mark.parametrize("name", ["my tag", "a.b", "back`tick", "x"])
def test_quote_name_round_trips(name: str) -> None:
    parsed = parse_filter(f"tags.{quote_name(name)} IS NULL")
    assert isinstance(parsed, Comparison)  # a lone comparison
    assert Key("tag", name) == parsed.key


def test_each_entity_has_its_own_keys() -> None:
    """An experiment filter knows experiment attributes only, and no metrics."""
    experiments = KeySpace("experiments", frozenset({"attribute", "tag"}), frozenset({"name"}))

    assert Comparison(Key("attribute", "name"), "=", "x") == parse_filter(
        "attributes.name = 'x'", experiments
    )
    with pytest.raises(FilterError, match="experiments have no attribute 'run_id'"):
        parse_filter("attributes.run_id = 'x'", experiments)
    with pytest.raises(FilterError, match="experiments have no metrics at position 1"):
        parse_filter("metrics.m < 1", experiments)
    assert "run_id" in RUN_KEYS.names


def test_tree_helpers() -> None:
    tree = parse_filter("params.a = '1' and (params.b = '1' or params.c = '1')")

    assert [A, B, C] == list(comparisons(tree))
    assert tree == conjoin(MATCH_ALL, tree)
    assert And((A, B, C)) == conjoin(And((A, B)), C)
    assert evaluate(tree, lambda c: c in (A, C))
    assert not evaluate(tree, lambda c: c in (B, C))
    assert evaluate(MATCH_ALL, lambda c: False)
