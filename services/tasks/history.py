"""The history of an assignment's progress (lịch sử báo cáo): every report and correction, kept,
the latest one counting. Read a page at a time, the newest first, since nothing limits how many
corrections a unit may send: the assignment shows its latest `FIRST` reports, …/history the rest.

Each report carries its `number` (lần báo cáo: 1 for the first one, `total` for the one that
counts), so that a page of older reports still says which they are."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tasks import models as m
from services.tasks.access import readable_assignment
from shared import pages
from shared.access import Caller

REPORTS = pages.Key("assignment-history", (datetime, uuid.UUID))  # the newest first
FIRST = 20  # the latest reports shown with the assignment itself


@dataclass(frozen=True)
class History:
    """A page of an assignment's reports (as JSON, numbered), the newest first, and how many it has."""

    page: pages.Page
    total: int

    def json(self) -> dict[str, Any]:
        return self.page.json(total=self.total)


def report_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "number": row.number,
        "status": row.status,
        "outputs": row.outputs,
        "note": row.note,
        "reason": row.reason,
        "good_model": row.good_model,
        "evidence": row.evidence,
        "reporter": row.reporter,
        "reported_at": row.reported_at.isoformat(),
    }


async def latest(session: AsyncSession, *, assignment_id: uuid.UUID, page: pages.Ask) -> History:
    """A page of an assignment's reports, the newest first (after a cursor: those older than the
    last one of the page before). Whether the
    reader may see the assignment is for the calling function to check."""
    p = m.progress_reports
    # numbers and total by window over the keys alone (not the notes), in the page's own
    # statement: one snapshot, so a report sent meanwhile cannot shift them
    ranked = (
        select(
            p.c.id,
            func.row_number().over(order_by=(p.c.reported_at, p.c.id)).label("number"),
            func.count().over().label("total"),
        )
        .where(p.c.assignment_id == assignment_id)
        .subquery()
    )
    query = select(p, ranked.c.number, ranked.c.total).join(ranked, ranked.c.id == p.c.id)
    if (after := page.where(p.c.reported_at, p.c.id, descending=True)) is not None:
        query = query.where(after)
    rows = (await session.execute(query.order_by(p.c.reported_at.desc(), p.c.id.desc()).limit(page.limit + 1))).all()
    if rows:
        total = int(rows[0].total)
    else:  # nothing (older) to show: counted apart
        count = select(func.count()).select_from(p).where(p.c.assignment_id == assignment_id)
        total = int((await session.execute(count)).scalar_one())
    cut = page.cut(rows, lambda r: (r.reported_at, r.id))
    return History(pages.Page([report_json(r) for r in cut.rows], cut.next_cursor), total)


async def list_(session: AsyncSession, *, caller: Caller, assignment_id: uuid.UUID, page: pages.Ask) -> History:
    """A page of an assignment's reports, the newest first; 404 outside the caller's subtree."""
    await readable_assignment(session, assignment_id, caller=caller)
    return await latest(session, assignment_id=assignment_id, page=page)
