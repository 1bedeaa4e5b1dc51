"""Page numbers for long lists, the same for pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def clamp(page: Any, per_page: Any = PER_PAGE) -> tuple[int, int]:
    """Sane page arguments from whatever was asked (garbage falls back to the defaults)."""
    try:
        page = min(MAX_PAGE, max(1, int(page)))
    except (TypeError, ValueError):
        page = 1
    try:
        per_page = min(MAX_PER_PAGE, max(1, int(per_page)))
    except (TypeError, ValueError):
        per_page = PER_PAGE
    return page, per_page


async def paginate(
    session: AsyncSession, query: Select, *, page: int, per_page: int, scalars: bool = True
) -> Page:
    total = (
        await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    )
    window = query.offset((page - 1) * per_page).limit(per_page)
    result = await session.execute(window)
    items = list(result.scalars()) if scalars else list(result)
    return Page(items=items, page=page, per_page=per_page, total=total)


async def page_of_ids(
    session: AsyncSession, ids: Select, *, total: Select, page: int, per_page: int
) -> tuple[list[Any], int]:
    """The ids on one page of a long list, and the list's length, in two cheap queries.

    `ids` selects only the ordered key (an index walks it, OFFSET included); `total` counts
    the base table with the same filters. The caller loads the joined rows of these ids
    alone, instead of joining every row the OFFSET skips.
    """
    found = await session.scalars(ids.offset((page - 1) * per_page).limit(per_page))
    return list(found), int(await session.scalar(total) or 0)
