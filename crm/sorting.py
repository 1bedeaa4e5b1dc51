"""Sorting long lists by a column: `sort=<column>` ascending, `sort=-<column>` descending.

Each list names the columns it may be sorted by (each one indexed, see crm/models.py) and
its default; the record's id breaks ties in the same direction, so pages of a sorted list
never repeat or skip a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import UnaryExpression
from sqlalchemy.orm import QueryableAttribute


@dataclass(frozen=True)
class Sort:
    """One column and a direction, as the `sort` parameter writes it."""

    column: str
    descending: bool = False

    @property
    def value(self) -> str:
        return f"-{self.column}" if self.descending else self.column

    def toggle(self, column: str, *, descending_first: bool = False) -> str:
        """The `sort` value of a header link: this column reversed, or another one."""
        if column == self.column:
            return column if self.descending else f"-{column}"
        return f"-{column}" if descending_first else column


@dataclass(frozen=True)
class Sorting:
    """The columns one list may be sorted by, and its default order."""

    columns: Mapping[str, tuple[QueryableAttribute[Any], ...]]
    tie: QueryableAttribute[Any]
    default: Sort

    @property
    def values(self) -> list[str]:
        """Every accepted `sort` value, both directions."""
        return [value for name in self.columns for value in (name, f"-{name}")]

    def parse(self, value: str | None) -> Sort | None:
        """The sort a `sort` value asks for; None when it is not one of this list's."""
        if not value:
            return None
        sort = Sort(value[1:], descending=True) if value.startswith("-") else Sort(value)
        return sort if sort.column in self.columns else None

    def or_default(self, value: str | None) -> Sort:
        """The sort asked for, or the default for a missing or unknown value (pages)."""
        return self.parse(value) or self.default

    def order_by(self, sort: Sort | None) -> list[UnaryExpression[Any]]:
        """ORDER BY terms of `sort` (the default when None), the id last."""
        sort = sort or self.default
        terms = (*self.columns[sort.column], self.tie)
        ordered = [term.desc() if sort.descending else term.asc() for term in terms]
        # Empty values last either way, as on PostgreSQL so on SQLite (whose NULLs are least).
        return [
            one.nulls_last() if getattr(term.expression, "nullable", False) else one
            for term, one in zip(terms, ordered, strict=True)
        ]
