"""Event subscribers of the reports service: keep the read models current.

Effects are idempotent and order-tolerant: a late, older progress report never overwrites a
newer one (compared by reported_at, not arrival order); successions may arrive before or after
the units they link, and the restated roll-up paths are refreshed either way.

What the owners never do is refused (shared/provenance.py): a directory event that moves a known
unit under another parent is dead-lettered; plan versions are taken one by one, a version
further on waits for those between, and a plan keeps its issuer."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    Table,
    TableValuedAlias,
    TextClause,
    bindparam,
    case,
    false,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.reports import aggregates, audit
from services.reports import models as m
from services.reports.domain import rollup_to
from shared.bus import PermanentEventError, Premature, Subscription, on
from shared.events import (
    AssignmentCancelled,
    AssignmentCreated,
    Event,
    Meta,
    PlanAmended,
    PlanClosed,
    PlanIssued,
    ProgressReported,
    UnitCreated,
    UnitRenamed,
    UnitSucceeded,
)
from shared.followup import done_since
from shared.periods import Period
from shared.provenance import Succession, succession
from shared.settings import Settings
from shared.units import ancestors, path_segments, taken_over, under_any


async def refresh_rollup_paths(session: AsyncSession, seeds: set[str]) -> None:
    """Recompute `rollup_to` for the seeds, every unit that (transitively) became one of them,
    and every unit below any of those."""
    u, s = m.units, m.successors
    # One refresh at a time: a unit and the succession naming it may be handled concurrently (in
    # two batches), and each must see what the other committed — also on the fast path below.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("reports.rollup_to"))))
    seed_paths = dict((await session.execute(select(u.c.code, u.c.path).where(u.c.code.in_(seeds)))).all())
    path_codes = {c for path in seed_paths.values() for c in ancestors(path)} | set(seeds)
    involved = (
        await session.execute(
            select(func.count()).select_from(s).where(or_(s.c.new_code.in_(seeds), s.c.old_code.in_(path_codes)))
        )
    ).scalar_one()
    if not involved:  # the common case (today's units): no succession touches it
        for code, path in seed_paths.items():
            await session.execute(update(u).where(u.c.code == code).values(rollup_to=ancestors(path)))
        return
    affected = set(seeds) | await taken_over(session, s, seeds)
    below = (await session.execute(select(u.c.code).where(under_any(u.c.path, affected)))).scalars()
    affected |= set(below)
    # Load only the paths and successions the affected units' roll-ups can reach.
    paths: dict[str, str] = {}
    successor: dict[str, str] = {}
    wanted, tried = set(affected), set()
    while wanted:
        tried |= wanted
        found = dict((await session.execute(select(u.c.code, u.c.path).where(u.c.code.in_(wanted)))).all())
        paths.update(found)
        codes = {c for path in found.values() for c in ancestors(path)} | wanted
        links = dict(
            (
                await session.execute(
                    select(s.c.old_code, s.c.new_code).where(s.c.is_default, s.c.old_code.in_(codes - set(successor)))
                )
            ).all()
        )
        successor.update(links)
        wanted = (codes | set(links.values())) - tried
    for code in affected & set(paths):
        await session.execute(
            update(u).where(u.c.code == code).values(rollup_to=rollup_to(code, paths=paths, successor=successor))
        )


async def _upsert_unit(session: AsyncSession, unit: UnitCreated | UnitRenamed, at: datetime, what: str) -> None:
    u = m.units
    before = await aggregates.units_before(session, {unit.code})  # its level and roll-up count in the aggregates
    known = (await session.execute(select(u.c.parent, u.c.path).where(u.c.code == unit.code).with_for_update())).first()
    if known is not None and (known.parent, known.path) != (unit.parent, unit.path):
        # the directory never moves a unit (a reorganisation is a new unit and a succession)
        raise PermanentEventError(
            f"{what} would move unit {unit.code} from {known.path} to {unit.path}: a unit keeps its place"
        )
    statement = insert(u).values(
        code=unit.code, name=unit.name, level=unit.level, parent=unit.parent, path=unit.path, named_at=at
    )
    newer = or_(u.c.named_at.is_(None), statement.excluded.named_at > u.c.named_at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["code"],
            set_={
                "name": case((newer, statement.excluded.name), else_=u.c.name),
                "named_at": func.greatest(u.c.named_at, statement.excluded.named_at),
                "level": statement.excluded.level,
                "parent": statement.excluded.parent,
                "path": statement.excluded.path,
            },
        )
    )
    await refresh_rollup_paths(session, {unit.code})
    await aggregates.restate(session, before)


async def unit_changed(session: AsyncSession, unit: UnitCreated | UnitRenamed, meta: Meta) -> list[Event]:
    """unit.created and unit.renamed: the unit as it now is."""
    await _upsert_unit(session, unit, meta.occurred_at, meta.type)
    return []


async def unit_succeeded(session: AsyncSession, link: UnitSucceeded, meta: Meta) -> list[Event]:
    before = await aggregates.units_before(session, {link.old})  # today's structure moves the current view
    await session.execute(
        insert(m.successors)
        .values(old_code=link.old, new_code=link.new, is_default=link.default)
        .on_conflict_do_nothing()
    )
    await refresh_rollup_paths(session, {link.old})
    await aggregates.restate(session, before)
    return []


# --- assignments and progress: the hot events, applied a fetched batch at a time -------------
# A batch is one statement per round (below) of a fixed text, whatever its size: the rows go in as
# one array per column and come out of unnest(), so SQLAlchemy compiles it and PostgreSQL prepares
# it once. The one-event handlers are the batch of one: the same rules, said once.


def _from_arrays(table: Table, columns: tuple[str, ...]) -> TableValuedAlias:
    """unnest(:c1, :c2, …) AS rows(c1, c2, …): a batch's rows, one bound array per column."""
    arrays = (bindparam(c, type_=ARRAY(table.c[c].type)) for c in columns)  # typed: asyncpg binds $n::uuid[]
    return func.unnest(*arrays).table_valued(*columns).render_derived(name="batch")


def _arrays(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> dict[str, list[Any]]:
    return {c: [row[c] for row in rows] for c in columns}


def rounds(events: Iterable[tuple[Any, Meta]], key: Callable[[Any], Any]) -> list[list[tuple[Any, Meta]]]:
    """The events split into rounds that touch each key at most once, in arrival order per key:
    PostgreSQL refuses to update one row twice in an INSERT … ON CONFLICT. A batch is nearly
    always one round; a second one holds what repeats an assignment of the first."""
    split: list[list[tuple[Any, Meta]]] = []
    seen: Counter[Any] = Counter()
    for item in events:
        turn = seen[key(item[0])]
        seen[key(item[0])] = turn + 1
        if turn == len(split):
            split.append([])
        split[turn].append(item)
    return split


_ASSIGNMENT_COLUMNS = ("id", "plan_id", "unit_code", "unit_path", "period", "period_start", "period_end", "state_at")
_CREATED_COLUMNS = (*_ASSIGNMENT_COLUMNS, "task_ref", "task_title", "plan_number", "due", "role")
_CANCELLED_COLUMNS = (*_ASSIGNMENT_COLUMNS, "due")


def _assignment_rows(columns: tuple[str, ...], **constant: Any) -> Select[Any]:
    """The rows of an assignment batch, with `ancestors` cut from the path (as
    shared.units.ancestors does) and the columns the event type decides."""
    rows = _from_arrays(m.assignments, columns)
    return select(
        *(rows.c[c] for c in columns),
        path_segments(rows.c.unit_path).label("ancestors"),
        *(literal(value, m.assignments.c[name].type).label(name) for name, value in constant.items()),
    )


def _created(*, revives: bool) -> Insert:
    """assignment.created (`revives`) and assignment.updated: the newest state wins, whatever the order."""
    a = m.assignments
    statement = insert(a).from_select(
        [*_CREATED_COLUMNS, "ancestors", "cancelled"], _assignment_rows(_CREATED_COLUMNS, cancelled=False)
    )
    newer = or_(a.c.state_at.is_(None), statement.excluded.state_at > a.c.state_at)
    # a newer assignment.created revives one an earlier amendment cancelled; an update does not
    revived = newer if revives else false()
    return statement.on_conflict_do_update(
        index_elements=["id"],
        set_={
            "task_ref": statement.excluded.task_ref,
            "task_title": case((newer, statement.excluded.task_title), else_=a.c.task_title),
            "plan_number": case((newer, statement.excluded.plan_number), else_=a.c.plan_number),
            "role": statement.excluded.role,
            "due": case((or_(newer, a.c.task_ref == ""), statement.excluded.due), else_=a.c.due),
            "cancelled": case((revived, False), else_=a.c.cancelled),
            "state_at": func.greatest(a.c.state_at, statement.excluded.state_at),
        },
    )


def _cancelled() -> Insert:
    """May arrive before the assignment it cancels: a placeholder row keeps the cancellation."""
    a = m.assignments
    statement = insert(a).from_select(
        [*_CANCELLED_COLUMNS, "ancestors", "task_ref", "cancelled"],
        _assignment_rows(_CANCELLED_COLUMNS, task_ref="", cancelled=True),
    )
    newer = or_(a.c.state_at.is_(None), statement.excluded.state_at > a.c.state_at)
    return statement.on_conflict_do_update(
        index_elements=["id"],
        set_={
            "cancelled": case((newer, True), else_=a.c.cancelled),
            "state_at": func.greatest(a.c.state_at, statement.excluded.state_at),
        },
    )


_UPSERT_ASSIGNMENTS = {
    "assignment.created": _created(revives=True),
    "assignment.updated": _created(revives=False),
    "assignment.cancelled": _cancelled(),
}


def _assignment_row(event: AssignmentCreated | AssignmentCancelled, meta: Meta) -> dict[str, Any]:
    """The read-model row of an assignment event (what its type decides besides: `_created`, `_cancelled`)."""
    period = Period.parse(event.period)
    row = {
        "id": event.assignment_id,
        "plan_id": event.plan_id,
        "unit_code": event.unit.code,
        "unit_path": event.unit.path,
        "period": period.code,
        "period_start": period.start,
        "period_end": period.end,
        "state_at": meta.occurred_at,
    }
    if isinstance(event, AssignmentCreated):
        return row | {
            "task_ref": event.task_ref,
            "task_title": event.task_title,
            "plan_number": event.plan_number,
            "due": event.due,
            "role": event.role,
        }
    return row | {"due": period.end}


async def assignments_changed(
    session: AsyncSession, events: list[tuple[AssignmentCreated | AssignmentCancelled, Meta]]
) -> list[Event]:
    """assignment.created, .updated and .cancelled of a batch: one statement per round and event
    type, rows in id order (concurrent batches of the three types lock them in the same order)."""
    async with aggregates.tracking(session, {event.assignment_id for event, _ in events}):
        for turn in rounds(events, key=lambda event: event.assignment_id):
            for event_type, statement in _UPSERT_ASSIGNMENTS.items():
                rows = sorted(
                    (_assignment_row(event, meta) for event, meta in turn if meta.type == event_type),
                    key=lambda row: row["id"],
                )
                if rows:
                    columns = _CANCELLED_COLUMNS if event_type == "assignment.cancelled" else _CREATED_COLUMNS
                    await session.execute(statement, _arrays(rows, columns))
    return []


async def assignment_created(session: AsyncSession, event: AssignmentCreated, meta: Meta) -> list[Event]:
    """assignment.created and assignment.updated: the newest state wins, whatever the order."""
    return await assignments_changed(session, [(event, meta)])


async def assignment_cancelled(session: AsyncSession, event: AssignmentCancelled, meta: Meta) -> list[Event]:
    """May arrive before the assignment it cancels: a placeholder row keeps the cancellation."""
    return await assignments_changed(session, [(event, meta)])


_PROGRESS_COLUMNS = tuple(m.progress.c.keys())  # every column of the read model's row


def _newest_report_wins() -> TextClause:
    """progress.reported and progress.corrected: the newest report (by reported_at) counts. One
    statement for a batch's rows, with the roll-ups' aggregates (aggregates.reporting)."""
    p = m.progress
    newer = "excluded.last_reported_at > held.last_reported_at"
    newest = ", ".join(
        f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE held.{c} END"
        # done_at as tasks counts it: since when the newest report says done
        for c in ("report_id", "status", "outputs", "note", "reason", "good_model", "done_at")
    )
    columns = ", ".join(_PROGRESS_COLUMNS)
    upsert = f"""
        INSERT INTO {p.fullname} AS held ({columns})
        SELECT * FROM unnest({", ".join(f":{c}" for c in _PROGRESS_COLUMNS)}) AS batch({columns})
        ON CONFLICT (assignment_id) DO UPDATE SET {newest},
            last_reported_at = greatest(held.last_reported_at, excluded.last_reported_at),
            first_reported_at = least(held.first_reported_at, excluded.first_reported_at)
        RETURNING held.assignment_id, held.first_reported_at, held.done_at, held.outputs"""
    # typed: asyncpg binds $n::uuid[] …
    return text(aggregates.reporting(upsert)).bindparams(
        *(bindparam(c, type_=ARRAY(p.c[c].type)) for c in _PROGRESS_COLUMNS)
    )


_REPORT_PROGRESS = _newest_report_wins()


def progress_row(event: ProgressReported) -> dict[str, Any]:
    """The read-model row one progress report leaves when it is the first."""
    return {
        "assignment_id": event.assignment_id,
        "report_id": event.report_id,
        "status": event.status,
        "outputs": event.outputs,
        "first_reported_at": event.reported_at,
        "last_reported_at": event.reported_at,
        # as tasks decided it; events from before `done_at` was carried: the one rule again
        "done_at": done_since(status=event.status, previous=event.done_at, at=event.reported_at),
        "note": event.note,
        "reason": event.reason,
        "good_model": event.good_model,
    }


def newest_reports(events: Iterable[ProgressReported]) -> list[dict[str, Any]]:
    """One row per assignment for a batch of reports, as `_newest_report_wins` would leave it
    after taking them one by one in this order: the newest report's fields (the first to arrive
    of equally new ones), the first and last reported_at of them all. In assignment order."""
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for event in events:
        row = progress_row(event)
        held = rows.get(event.assignment_id)
        if held is not None:
            newest = row if row["last_reported_at"] > held["last_reported_at"] else held
            row = newest | {
                "first_reported_at": min(held["first_reported_at"], row["first_reported_at"]),
                "last_reported_at": max(held["last_reported_at"], row["last_reported_at"]),
            }
        rows[event.assignment_id] = row
    return [rows[key] for key in sorted(rows)]


async def progress_reported_many(session: AsyncSession, events: list[tuple[ProgressReported, Meta]]) -> list[Event]:
    """progress.reported and progress.corrected of a batch: reduced to one row per assignment
    here, then one statement; the roll-ups' aggregates follow in the same transaction."""
    rows = newest_reports(event for event, _ in events)
    await aggregates.lock(session)
    await session.execute(_REPORT_PROGRESS, _arrays(rows, _PROGRESS_COLUMNS))
    return []


async def progress_reported(session: AsyncSession, event: ProgressReported, meta: Meta) -> list[Event]:
    """progress.reported and progress.corrected: the newest report (by reported_at) counts."""
    return await progress_reported_many(session, [(event, meta)])


async def plan_version(session: AsyncSession, event: PlanIssued | PlanAmended, meta: Meta) -> list[Event]:
    """plan.issued and plan.amended: the plan and its tasks as of the newest version."""
    p, t = m.plans, m.plan_tasks
    held = (
        await session.execute(select(p.c.version, p.c.issuer_code).where(p.c.id == event.plan_id).with_for_update())
    ).first()
    if held is not None and held.issuer_code != event.issuer.code:
        raise PermanentEventError(
            f"{meta.type} of plan {event.plan_id} by {event.issuer.code}: the plan was issued by {held.issuer_code}"
        )
    step = succession(event.version, held=held.version if held is not None else None)
    if step is Succession.EARLY:
        raise Premature(
            f"{meta.type} v{event.version} of plan {event.plan_id}: reports holds "
            f"v{held.version if held is not None else 0}, waits for the versions between"
        )
    if step is Succession.SEEN:
        return []  # an older version arriving late
    statement = insert(p).values(
        id=event.plan_id,
        number=event.number,
        title=event.title,
        issuer_code=event.issuer.code,
        issuer_name=event.issuer.name,
        period=event.period,
        version=event.version,
    )
    applied = (
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["id"],
                set_={c: statement.excluded[c] for c in ("number", "title", "issuer_name", "period", "version")},
                where=statement.excluded.version > p.c.version,
            ).returning(p.c.id)
        )
    ).first()
    if applied is None:
        return []  # an older version arriving late
    await session.execute(t.delete().where(t.c.plan_id == event.plan_id))
    rows = [
        {
            "plan_id": event.plan_id,
            "ref": task.ref,
            "title": task.title,
            "area": task.area,
            "channels": task.channels,
            "targets": {product.kind: product.target for product in task.products},
        }
        for task in event.tasks
    ]
    if rows:
        await session.execute(insert(t), rows)
    return []


async def plan_closed(session: AsyncSession, event: PlanClosed, meta: Meta) -> list[Event]:
    p = m.plans
    statement = insert(p).values(
        id=event.plan_id,
        number=event.number,
        title="",
        issuer_code=event.issuer.code,
        period="",
        version=0,
        closed=True,
    )
    await session.execute(statement.on_conflict_do_update(index_elements=["id"], set_={"closed": True}))
    return []


def subscriptions(settings: Settings) -> list[Subscription]:
    return [
        *on(plan_version, "plan.issued", "plan.amended"),
        *on(plan_closed, "plan.closed"),
        *on(unit_changed, "unit.created", "unit.renamed"),
        *on(unit_succeeded, "unit.succeeded"),
        # the hot ones: a fetched batch in one set-based statement (shared/bus.py `attach`)
        *on(assignment_created, "assignment.created", "assignment.updated", many=assignments_changed),
        *on(assignment_cancelled, "assignment.cancelled", many=assignments_changed),
        *on(progress_reported, "progress.reported", "progress.corrected", many=progress_reported_many),
        *on(audit.record, "audit.recorded"),
    ]
