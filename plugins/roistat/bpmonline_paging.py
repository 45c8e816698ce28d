"""Keyset paging over ``ModifiedOn`` for Creatio's OData 4, which has no next link.

Why a keyset and not ``$skip``: Creatio sends no ``@odata.nextLink`` and rows
move while we page. A row modified mid-read jumps to the end of the
``ModifiedOn`` order, so every row behind it shifts one place and a plain
``$skip`` walks past one unread row. Filtering ``ModifiedOn ge T`` from the last
``ModifiedOn`` seen (T) cannot skip anything; the price is that rows at exactly
T come back, so we remember the ids already emitted at T and drop them. A
modified row comes back with a new ``ModifiedOn``: it is a new version and is
emitted again, not a repeat. When more rows share T than fit in a page, the
``ge T`` page holds nothing new; we then walk that tie group alone
(``ModifiedOn eq T`` by ``Id`` with ``$skip`` and ``$count``), start it over when
its count changes (a row left, so ``$skip`` may have jumped one), and go on with
``ModifiedOn gt T``. The remembered ids never outgrow the largest tie group.

Stamps are kept as text in Creatio's own form (`canonical_timestamp`), where
text order is time order at the full 100 ns precision: comparing text is much
cheaper than parsing every row's ModifiedOn, and the filter literal is the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from roistat.bpmonline_errors import BpmOnlineConfigError, BpmOnlinePagingError
from roistat.bpmonline_values import ODataTimestamp, canonical_timestamp

MAX_PAGE_SIZE = 20_000  # Creatio's per-request cap (reference/creatio-api.md §3.3)

# A tie group whose count keeps changing under us is restarted this many times
# before we give up rather than loop.
_MAX_TIE_RESTARTS = 20


@dataclass(slots=True)
class _TieScan:
    skip: int = 0
    count: int | None = None
    restarts: int = 0


class ModifiedOnKeyset:
    """The paging state of one read: the last ``ModifiedOn`` and the ids emitted at it.

    Call `next_query()` for the OData options of the next request (None when
    the read is complete), then `take()` with that page's raw rows and its
    ``@odata.count``; `take()` returns the rows to emit and advances the state.
    """

    def __init__(
        self,
        *,
        page_size: int,
        window_start: ODataTimestamp | None = None,
        window_end: ODataTimestamp | None = None,
    ) -> None:
        self.page_size = validate_page_size(page_size)
        self.window_start = None if window_start is None else window_start.literal()
        self.window_end = None if window_end is None else window_end.literal()

        self.mark: str | None = None
        self.seen_at_mark: set[str] = set()
        self.mark_done = False
        self.done = False
        self._tie: _TieScan | None = None
        # A short page usually means the end, but a site may cap its answers
        # below $top (a server setting, silently): the next request asks for
        # the count too, to tell the two apart.
        self._confirming_end = False

    @property
    def in_tie_scan(self) -> bool:
        return self._tie is not None

    def next_query(self) -> dict[str, str] | None:
        """Return ``$filter``, ``$orderby``, ``$top`` (and more) for the next page."""
        if self.done:
            return None

        if self._tie is not None:
            return {
                "$filter": f"ModifiedOn eq {self.mark}",
                "$orderby": "Id asc",
                "$top": str(self.page_size),
                "$skip": str(self._tie.skip),
                "$count": "true",
            }

        conditions = []
        if self.mark is not None:
            conditions.append(f"ModifiedOn {'gt' if self.mark_done else 'ge'} {self.mark}")
        elif self.window_start is not None:
            conditions.append(f"ModifiedOn ge {self.window_start}")
        if self.window_end is not None:
            conditions.append(f"ModifiedOn lt {self.window_end}")

        query = {"$orderby": "ModifiedOn asc,Id asc", "$top": str(self.page_size)}
        if conditions:
            query["$filter"] = " and ".join(conditions)
        if self._confirming_end:
            query["$count"] = "true"
        return query

    def take(
        self, rows: Sequence[Mapping[str, Any]], count: int | None = None
    ) -> list[Mapping[str, Any]]:
        """Consume one page; return its rows not emitted before, in order."""
        if self._tie is not None:
            return self._take_tie_page(rows, count)
        return self._take_page(rows, count)

    def _take_page(
        self, rows: Sequence[Mapping[str, Any]], count: int | None
    ) -> list[Mapping[str, Any]]:
        fresh = []
        floor = self.mark or self.window_start
        for row in rows:
            row_id, stamp = _key(row)
            if floor is not None and stamp < floor:
                raise BpmOnlinePagingError(
                    f"the CRM returned ModifiedOn {stamp} after {floor}: it does not order by "
                    "ModifiedOn or ignores the filter, so paging cannot be trusted"
                )
            floor = stamp

            if stamp == self.mark:
                if row_id in self.seen_at_mark:
                    continue
                self.seen_at_mark.add(row_id)
            else:
                self.mark, self.seen_at_mark, self.mark_done = stamp, {row_id}, False
            fresh.append(row)

        if len(rows) < self.page_size:
            if self._confirming_end and count is not None and count > len(rows):
                if not rows:
                    raise BpmOnlinePagingError(
                        f"the CRM counts {count} rows for the filter but returned none"
                    )
                # The site answers at most len(rows) rows whatever $top says:
                # page by that from now on, and this page was a full one.
                self.page_size = len(rows)
                self._confirming_end = False
            elif self._confirming_end or not rows:
                self.done = True
                return fresh
            else:
                self._confirming_end = True
                return fresh
        self._confirming_end = False
        if not fresh:
            # A whole page of rows already emitted at mark: the tie group at
            # mark is at least a page long. Walk it alone.
            self._tie = _TieScan()
        return fresh

    def _take_tie_page(
        self, rows: Sequence[Mapping[str, Any]], count: int | None
    ) -> list[Mapping[str, Any]]:
        tie = self._tie
        assert tie is not None
        if count is None:
            raise BpmOnlinePagingError(
                "the CRM ignored $count=true; cannot page a tie group safely"
            )

        changed = tie.count is not None and count != tie.count
        tie.count = count

        fresh = []
        for row in rows:
            row_id, stamp = _key(row)
            if stamp != self.mark:
                raise BpmOnlinePagingError(
                    f"the CRM returned ModifiedOn {stamp} for the filter ModifiedOn eq {self.mark}"
                )
            if row_id not in self.seen_at_mark:
                self.seen_at_mark.add(row_id)
                fresh.append(row)

        if changed:
            tie.restarts += 1
            if tie.restarts > _MAX_TIE_RESTARTS:
                raise BpmOnlinePagingError(
                    f"the rows sharing ModifiedOn {self.mark} kept changing while being read "
                    f"({_MAX_TIE_RESTARTS} restarts); try again later"
                )
            tie.skip = 0
            return fresh

        tie.skip += len(rows)
        # The count, not a short page, says when the group is done: a site that
        # caps its answers below $top sends short pages mid-group.
        if not rows or tie.skip >= count:
            self._tie = None
            self.mark_done = True
        return fresh


def validate_page_size(page_size: int) -> int:
    """Return ``page_size`` if Creatio accepts it (1 to 20,000 rows)."""
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= MAX_PAGE_SIZE
    ):
        raise BpmOnlineConfigError(
            f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE} (Creatio's cap), got {page_size!r}"
        )
    return page_size


def _key(row: Mapping[str, Any]) -> tuple[str, str]:
    try:
        return str(row["Id"]), canonical_timestamp(row["ModifiedOn"])
    except (KeyError, ValueError) as exc:
        raise BpmOnlinePagingError(
            f"a row came back without a usable Id and ModifiedOn: {exc}"
        ) from None
