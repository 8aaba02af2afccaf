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
) -> Listing:
    """Apply the request's search, sort and page to a select and return one page."""
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
    query = query.order_by(column.desc() if direction == "desc" else column.asc())
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    size = current_app.config["PAGE_SIZE"]
    pages = max(1, -(-total // size))
    try:
        page = min(max(1, int(request.args.get("page", 1))), pages)
    except ValueError:
        page = 1
    query = query.limit(size).offset((page - 1) * size)
    result = db.session.execute(query)
    items = list(result.scalars()) if scalars else list(result)
    return Listing(items, total, page, pages, sort, direction, q)
