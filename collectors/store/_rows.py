"""Building the store's result dataclasses (`collectors.store.base`) from database rows."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_T = TypeVar("_T", bound="DataclassInstance")


def from_row(cls: type[_T], row: Mapping[Any, Any], **computed: Any) -> _T:
    """A *cls* from *row*: each field is the row's column of the same name, unless
    *computed* gives it (a decoded JSON column, a flag worked out of another column).

    Fields that neither the row nor *computed* has keep their defaults (the lists a
    reader fills in afterwards).
    """
    values = {name: row[name] for name in _field_names(cls) if name in row}
    values.update(computed)
    construct: Callable[..., _T] = cls
    return construct(**values)


@functools.cache
def _field_names(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))
