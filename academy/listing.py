"""Search, sort and paginate any list page the same way (?q=, ?sort=, ?dir=, ?page=)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app, request

from academy.extensions import db


@dataclass
class Listing:
    items: list[Any]
    total: int
    page: int
    pages: int
    sort: str
    direction: str
    q: str
    # True when there are more than count_limit matches: total is then that limit, not the exact count.
    capped: bool = False

    def args(self, **changes: Any) -> dict[str, Any]:
        """Return the query arguments of this listing with some changed (for links)."""
        current = {k: v for k, v in request.args.items()}
        current.update({k: v for k, v in changes.items()})
        return current


def paginate(
    query: sa.Select,
    *,
    sortable: dict[str, Any],
    default_sort: str,
    default_direction: str = "asc",
    searchable: list[Any] = (),  # type: ignore[assignment]
    scalars: bool = True,
    count_limit: int | None = None,
    then: tuple[Any, ...] = (),
    size: int | None = None,
) -> Listing:
    """Apply the request's search, sort and page to a select and return one page.

    With count_limit, matches are counted only up to that many (the pages say "more than"), so a list of
    years of rows costs the same to show as a list of one year's. The columns in `then` order rows the sort
    leaves tied, so that a row never shows on two pages or on none. A page holds `size` rows (default the
    PAGE_SIZE setting): fewer where each row costs more to show.
    """
    q = request.args.get("q", "").strip()[:100]
    if q and searchable:
        pattern = f"%{q.lower()}%"
        query = query.where(sa.or_(*(sa.func.lower(col).like(pattern) for col in searchable)))
    sort = request.args.get("sort", default_sort)
    if sort not in sortable:
        sort = default_sort
    # The default direction belongs to the default order; a column the user picks starts ascending.
    direction = request.args.get("dir", default_direction if "sort" not in request.args else "asc")
    direction = "desc" if direction == "desc" else "asc"
    column = sortable[sort]
    query = query.order_by(column.desc() if direction == "desc" else column.asc(), *then)
    counted = query.order_by(None)
    if count_limit is not None:
        counted = counted.limit(count_limit + 1)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(counted.subquery())) or 0
    capped = count_limit is not None and total > count_limit
    total = min(total, count_limit) if capped else total
    size = size or current_app.config["PAGE_SIZE"]
    pages = max(1, -(-total // size))
    try:
        page = min(max(1, int(request.args.get("page", 1))), pages)
    except ValueError:
        page = 1
    query = query.limit(size).offset((page - 1) * size)
    result = db.session.execute(query)
    items = list(result.scalars()) if scalars else list(result)
    return Listing(items, total, page, pages, sort, direction, q, capped)
