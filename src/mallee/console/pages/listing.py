"""Lists: sorting, filtering and paging, as a page's query string asks for them.

A list the API pages (EC2's MaxResults/NextToken, IAM's Marker/MaxItems, S3's continuation
token) is asked for one page at a time, filtered by the API's own filters: the console never
builds a page from everything. Such a page follows the API's order, and sorting orders the rows
of that page. A list the API answers whole (key pairs, addresses, buckets, properties) is
filtered, sorted and cut into pages here, from that one answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as member
from typing import Any
from urllib.parse import urlencode

from mallee.console.context import Ctx

SIZES = (25, 50, 100)
DEFAULT_SIZE = 50
# Earlier pages' tokens, kept in the query so "Previous" needs nothing stored on the server;
# beyond this many, Previous starts again from the first page.
_TRAIL = 40


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    sortable: bool = True


@dataclass
class Listing:
    """One page of a list and how it was asked for; templates draw it with _list.html."""

    path: str
    columns: Sequence[Column]
    # The filters offered: (name, label). For an API-paged list, the API's filter names.
    filters: Sequence[tuple[str, str]]
    sort: str = ""
    desc: bool = False
    field: str = ""
    value: str = ""
    size: int = DEFAULT_SIZE
    # This page's token ("" for the first), the next one's (None on the last), those before.
    token: str = ""
    next_token: str | None = None
    trail: list[str] = member(default_factory=list)
    rows: list[dict[str, Any]] = member(default_factory=list)
    # Rows in the whole list, when known (a list answered whole).
    total: int | None = None
    first: int = 0
    # Query parameters the page itself needs kept (a bucket's name, say).
    keep: dict[str, str] = member(default_factory=dict)
    api_paged: bool = True

    def url(self, **changes: Any) -> str:
        values: dict[str, Any] = {
            **self.keep,
            "sort": self.sort,
            "dir": "desc" if self.desc else "",
            "field": self.field,
            "value": self.value,
            "size": self.size if self.size != DEFAULT_SIZE else "",
        }
        values.update(changes)
        query = urlencode({k: v for k, v in values.items() if v not in ("", None)})
        return self.path + ("?" + query if query else "")

    def sort_url(self, column: str) -> str:
        desc = column == self.sort and not self.desc
        return self.url(sort=column, dir="desc" if desc else "")

    def aria_sort(self, column: str) -> str:
        if column != self.sort:
            return "none"
        return "descending" if self.desc else "ascending"

    @property
    def next_url(self) -> str | None:
        if self.next_token is None:
            return None
        trail = [*self.trail, self.token][-_TRAIL:]
        return self.url(page=self.next_token, trail=" ".join(t or "-" for t in trail))

    @property
    def previous_url(self) -> str | None:
        if not self.token:
            return None
        if not self.trail:
            return self.url()
        *before, last = self.trail
        last = "" if last == "-" else last
        return self.url(page=last, trail=" ".join(before))

    @property
    def first_url(self) -> str | None:
        return self.url() if self.token else None

    @property
    def this_url(self) -> str:
        trail = " ".join(t or "-" for t in self.trail)
        return self.url(page=self.token, trail=trail)

    @property
    def filtered(self) -> bool:
        return bool(self.field and self.value)


def listing(
    ctx: Ctx,
    path: str,
    columns: Sequence[Column],
    filters: Sequence[tuple[str, str]] = (),
    *,
    default_sort: str = "",
    keep: Mapping[str, str] | None = None,
) -> Listing:
    """The list `path` as the request's query asks for it (its rows not yet in)."""
    q = ctx.request.query_params
    sortable = {c.key for c in columns if c.sortable}
    sort = q.get("sort", "") if q.get("sort", "") in sortable else default_sort
    field_name = q.get("field", "")
    if field_name not in {name for name, _ in filters}:
        field_name = filters[0][0] if filters else ""
    try:
        size = int(q.get("size", DEFAULT_SIZE))
    except ValueError:
        size = DEFAULT_SIZE
    trail = [t for t in q.get("trail", "").split(" ") if t][-_TRAIL:]
    return Listing(
        path=path,
        columns=columns,
        filters=filters,
        sort=sort,
        desc=q.get("dir") == "desc",
        field=field_name,
        value=q.get("value", "").strip(),
        size=size if size in SIZES else DEFAULT_SIZE,
        token=q.get("page", ""),
        trail=trail,
        keep=dict(keep or {}),
    )


def _sort_key(value: Any) -> tuple[int, Any]:
    # Numbers as numbers, blanks last, text without regard to case.
    if value is None or value == "":
        return (2, "")
    if isinstance(value, bool | int | float):
        return (0, value)
    return (1, str(value).lower())


def sort_rows(rows: list[dict[str, Any]], sort: str, desc: bool) -> list[dict[str, Any]]:
    if not sort:
        return rows
    return sorted(rows, key=lambda row: _sort_key(row.get(sort)), reverse=desc)


def api_page(
    lst: Listing,
    fetch: Callable[[dict[str, Any]], tuple[Iterable[dict[str, Any]], str | None]],
) -> Listing:
    """Fill `lst` with one page the API gives: `fetch` gets the paging parameters (MaxResults
    and, past the first page, NextToken, as the caller names them for its API) and returns the
    page's rows and the next page's token."""
    params: dict[str, Any] = {"size": lst.size}
    if lst.token:
        params["token"] = lst.token
    rows, next_token = fetch(params)
    lst.rows = sort_rows(list(rows), lst.sort, lst.desc)
    lst.next_token = next_token or None
    return lst


def local_page(lst: Listing, rows: Iterable[dict[str, Any]]) -> Listing:
    """Fill `lst` from a list the API answers whole: filtered (the chosen column holds the
    text, any case), sorted, and this page of it cut out."""
    lst.api_paged = False
    chosen = list(rows)
    if lst.filtered:
        wanted = lst.value.lower()
        keys = [lst.field] if lst.field != "*" else [c.key for c in lst.columns]
        chosen = [r for r in chosen if any(wanted in str(r.get(k, "")).lower() for k in keys)]
    chosen = sort_rows(chosen, lst.sort, lst.desc)
    try:
        start = max(0, int(lst.token or 0))
    except ValueError:
        start = 0
    start = min(start, max(0, len(chosen) - 1))
    start -= start % lst.size
    lst.token = str(start) if start else ""
    lst.first = start
    lst.total = len(chosen)
    lst.rows = chosen[start : start + lst.size]
    following = start + lst.size
    lst.next_token = str(following) if following < len(chosen) else None
    # No trail needed: the previous page of a list cut here is known from the offset.
    lst.trail = [str(start - lst.size) if start - lst.size > 0 else "-"] if start else []
    return lst


def local_filters(columns: Sequence[Column]) -> list[tuple[str, str]]:
    """For a list answered whole: any column, or one of them."""
    return [("*", "Any column"), *[(c.key, c.label) for c in columns if c.sortable]]


def ec2_filters(lst: Listing) -> list[dict[str, Any]]:
    """The EC2 Filters for what the filter form asks: the text anywhere in the value, unless
    it has EC2's own wildcards (`*`, `?`) to say where."""
    if not lst.filtered:
        return []
    value = lst.value if any(c in lst.value for c in "*?") else f"*{lst.value}*"
    return [{"Name": lst.field, "Values": [value]}]
