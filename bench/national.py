"""The national data set the benchmarks share: 34 provinces and their 3,321 communes, a year of
plans with monthly tasks led by every commune, their assignments (commune × task × month) and a
stream of progress events — progress.reported, then progress.corrected for a share of them — in
the order of their reported_at, as the tasks service's outbox would publish them.

Deterministic: the same (seed, year, events, corrections, provinces) give the same plans, ids,
envelopes and bytes. The events are generated month by month (a heap holds what spills into the
next month), never all in memory.

    from national import Dataset, publish
    data = Dataset(events=1_000_000)
    data.units, data.plans, data.assignments(plan)      # the directory, the plans, their assignments
    data.plan_envelopes("cchc"), data.assignment_envelopes("cchc")   # plan.issued, assignment.created
    for subject, body, headers in data.envelopes("cchc"): ...        # the progress events
    await publish(js, data.envelopes("cchc"))          # as the tasks service's NATS user

    .venv/bin/python bench/national.py --events 1000000      # generation rate and the shape
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from pydantic import BaseModel
from rollup_queries import GOOD_MODELS, MONTHLY, NOTES, QUARTERLY, REASONS, Task, plan_tasks_of, vn_moment

from services.plans.directory import PROVINCES, official_units
from services.tasks.domain import NewAssignment, assignments_for
from shared.clock import VN
from shared.deadlines import DueRules
from shared.events import Actor, Envelope, PlanIssued, ProgressReported, UnitRef, subject
from shared.followup import done_since, on_time
from shared.periods import Period
from shared.workdays import WorkingCalendar

MONTHS = 12
CATALOGUE: list[Task] = [*MONTHLY, *QUARTERLY]  # what a commune reports on every month
NAMESPACE = uuid.UUID("5b0e7a1c-6d2f-4c39-9a51-c0c4c0ffee18")  # the data set's own ids (uuid5)


def per_assignment(corrections: float) -> float:
    """Events per reported assignment: the report, a correction with probability c, a second one with 0.2 c."""
    return 1 + 1.2 * corrections


def unit_ref(unit: UnitRef) -> UnitRef:
    """The unit as the tasks service puts it in its events (shared.units.unit_ref: no level)."""
    return UnitRef(code=unit.code, path=unit.path, name=unit.name)


def province_units(provinces: Iterable[str] | None = None) -> list[tuple[UnitRef, list[UnitRef]]]:
    """Each province and its communes, as the plans service loads them (vietnam-provinces)."""
    found = []
    for code in sorted(provinces or PROVINCES):
        units = official_units(code)
        refs = [UnitRef(code=u.code, path=u.path, name=u.name, level=u.level) for u in units]
        found.append((refs[0], refs[1:]))
    return found


@dataclass(frozen=True)
class Plan:
    """One province's plan for the year: monthly tasks led by each of its communes."""

    plan_id: uuid.UUID
    number: str
    title: str
    issuer: UnitRef
    period: str
    tasks: list[Any]  # shared.events.PlanTask, leads resolved
    catalogue: dict[str, Task]  # task ref → the products and texts of the task

    def issued(self) -> PlanIssued:
        return PlanIssued(
            plan_id=self.plan_id,
            number=self.number,
            title=self.title,
            issuer=self.issuer,
            period=self.period,
            tasks=self.tasks,
        )


@dataclass
class Summary:
    """What a full pass over the events produced: counts and the read model it should leave."""

    events: int = 0
    types: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)  # the newest report of each assignment
    reported: int = 0  # assignments with at least one report
    outputs: Counter[str] = field(default_factory=Counter)  # sum of the newest reports' outputs
    first: datetime | None = None
    last: datetime | None = None


@dataclass(frozen=True)
class _Pending:
    """A report still to be emitted (ordered by `at` in the heap)."""

    assignment: NewAssignment
    plan: Plan
    status: str
    outputs: dict[str, int]
    note: str
    reason: str
    good_model: str
    corrections_left: int  # how many reports of this assignment come after this one


@dataclass
class Dataset:
    """The national data set, sized by `events` (the progress stream stops there): each province
    issues one plan with as many monthly tasks as it takes, each report is corrected with
    probability `corrections` (a corrected one once more with probability 0.2)."""

    events: int = 20_000
    seed: int = 2026
    year: int = 2026
    corrections: float = 0.25
    provinces: tuple[str, ...] | None = None  # default: all 34
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    rules: DueRules = field(default_factory=DueRules)

    @cached_property
    def units(self) -> list[tuple[UnitRef, list[UnitRef]]]:
        return province_units(self.provinces)

    @property
    def communes(self) -> int:
        return sum(len(communes) for _, communes in self.units)

    @property
    def tasks_per_plan(self) -> int:
        """Monthly tasks per plan so that a year of reports (and their corrections) reaches `events`."""
        return max(1, math.ceil(self.events / (self.communes * MONTHS * per_assignment(self.corrections))))

    def _id(self, *parts: object) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, "/".join(str(p) for p in (self.seed, self.year, *parts)))

    @cached_property
    def plans(self) -> list[Plan]:
        made = []
        titles = [
            CATALOGUE[i % len(CATALOGUE)].title + (f" (đợt {i // len(CATALOGUE) + 1})" if i >= len(CATALOGUE) else "")
            for i in range(self.tasks_per_plan)
        ]
        for index, (province, communes) in enumerate(self.units):
            refs = [f"II.{i + 1}" for i in range(self.tasks_per_plan)]
            chosen = [CATALOGUE[i % len(CATALOGUE)] for i in range(self.tasks_per_plan)]
            named = [Task(t, c.area, c.channels, c.products) for t, c in zip(titles, chosen, strict=True)]
            made.append(
                Plan(
                    plan_id=self._id("plan", province.code),
                    number=f"{10 + index}/KH-UBND",
                    title=f"Kế hoạch thông tin, tuyên truyền cải cách hành chính hằng tháng năm {self.year}",
                    issuer=province,
                    period=str(self.year),
                    tasks=plan_tasks_of(named, communes, "hằng tháng", refs),
                    catalogue=dict(zip(refs, named, strict=True)),
                )
            )
        return made

    def assignments(self, plan: Plan) -> list[NewAssignment]:
        """The plan's assignments, with the ids and due dates the tasks service gives them."""
        return assignments_for(
            plan_id=plan.plan_id, period=plan.period, tasks=plan.tasks, calendar=self.calendar, rules=self.rules
        )

    def by_month(self) -> list[list[tuple[NewAssignment, Plan]]]:
        months: list[list[tuple[NewAssignment, Plan]]] = [[] for _ in range(MONTHS)]
        for plan in self.plans:
            for a in self.assignments(plan):
                months[a.period.index - 1].append((a, plan))
        return months

    # --- the progress stream ----------------------------------------------------------------

    def _first_report(self, a: NewAssignment, plan: Plan, rng: random.Random) -> tuple[datetime, _Pending]:
        task = plan.catalogue[a.task_ref]
        start = a.period.start
        if rng.random() < 0.15:  # late: 1-20 days after the due date
            day = a.due + timedelta(days=rng.randint(1, 20))
        else:
            day = max(start, a.due - timedelta(days=rng.randint(0, 12)))
        roll = rng.random()
        status = "done" if roll < 0.86 else "in_progress" if roll < 0.96 else "cannot_do"
        corrections = (1 + (rng.random() < 0.2)) if rng.random() < self.corrections else 0
        return vn_moment(day, rng), self._pending(a, plan, task, status, corrections, rng)

    def _pending(
        self, a: NewAssignment, plan: Plan, task: Task, status: str, corrections_left: int, rng: random.Random
    ) -> _Pending:
        if status == "cannot_do":
            return _Pending(a, plan, status, {}, "", rng.choice(REASONS), "", corrections_left)
        kinds = list(task.products)
        chosen = rng.sample(kinds, k=min(len(kinds), rng.randint(1, 3)))
        if status == "in_progress":
            chosen = chosen[:1]
        outputs = {kind: rng.randint(*task.products[kind]) for kind in chosen}
        note = rng.choice(NOTES) if rng.random() < 0.06 else ""
        good = rng.choice(GOOD_MODELS) if status == "done" and rng.random() < 0.005 else ""
        return _Pending(a, plan, status, outputs, note, "", good, corrections_left)

    def _correction(self, before: _Pending, at: datetime, rng: random.Random) -> tuple[datetime, _Pending]:
        """A later report of the same occurrence: done now, or the numbers put right."""
        later = at + timedelta(days=rng.randint(1, 10), minutes=rng.randrange(600))
        status = "done" if before.status != "done" or rng.random() < 0.95 else "in_progress"
        task = before.plan.catalogue[before.assignment.task_ref]
        return later, self._pending(before.assignment, before.plan, task, status, before.corrections_left - 1, rng)

    def reports(self, summary: Summary | None = None) -> Iterator[tuple[str, ProgressReported]]:
        """(event type, payload) of every progress event, reported_at strictly increasing, at most
        `events` of them; corrections always after the report they correct. Fills `summary`."""
        rng = random.Random(f"{self.seed}/{self.year}/progress")
        summary = summary if summary is not None else Summary()
        heap: list[tuple[datetime, int, _Pending]] = []
        seq = 0
        done_at: dict[uuid.UUID, datetime | None] = {}  # assignments with corrections still to come
        last_outputs: dict[uuid.UUID, dict[str, int]] = {}
        last_status: dict[uuid.UUID, str] = {}
        last: datetime | None = None
        months = self.by_month()
        # a little more than enough reports, so the stream reaches `events` late in December
        share = min(1.0, 1.05 * self.events / (sum(map(len, months)) * per_assignment(self.corrections)))
        refs: dict[str, UnitRef] = {}
        for month in range(MONTHS + 1):
            if month < MONTHS:
                for a, plan in months[month]:
                    if rng.random() < share:  # the others never report
                        at, item = self._first_report(a, plan, rng)
                        heapq.heappush(heap, (at, seq, item))
                        seq += 1
                months[month] = []
            if month + 1 < MONTHS:  # whatever comes later lies in a later month: what is before can go
                horizon = datetime.combine(Period("month", self.year, month + 2).start, datetime.min.time(), VN)
            else:
                horizon = datetime.max.replace(tzinfo=UTC)
            while heap and heap[0][0] < horizon:
                at, _, item = heapq.heappop(heap)
                if last is not None and at <= last:
                    at = last + timedelta(microseconds=1)
                last = at
                a = item.assignment
                corrected = a.id in done_at or a.id in last_status
                previous = done_at.pop(a.id, None)
                done = done_since(status=item.status, previous=previous, at=at)
                payload = ProgressReported(
                    report_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    assignment_id=a.id,
                    plan_id=item.plan.plan_id,
                    unit=refs.get(a.unit.code) or refs.setdefault(a.unit.code, unit_ref(a.unit)),
                    period=a.period.code,
                    due=a.due,
                    status=item.status,  # type: ignore[arg-type]
                    outputs=item.outputs,
                    reported_at=at,
                    on_time=on_time(at, a.due),
                    reason=item.reason,
                    evidence=[],
                    note=item.note,
                    good_model=item.good_model,
                    done_at=done,
                )
                kind = "progress.corrected" if corrected else "progress.reported"
                summary.events += 1
                summary.types[kind] += 1
                summary.first = summary.first or at
                summary.last = at
                if not corrected:
                    summary.reported += 1
                summary.outputs.subtract(last_outputs.pop(a.id, {}))
                summary.outputs.update(item.outputs)
                summary.statuses[item.status] += 1
                if corrected:
                    summary.statuses[last_status.pop(a.id)] -= 1
                if item.corrections_left:
                    done_at[a.id] = done
                    last_outputs[a.id] = item.outputs
                    last_status[a.id] = item.status
                    later, follow = self._correction(item, at, rng)
                    heapq.heappush(heap, (later, seq, follow))
                    seq += 1
                yield kind, payload
                if summary.events >= self.events:
                    return

    def _official(self, unit: UnitRef) -> Actor:
        """The official whose write an event of `unit` comes from."""
        return Actor(subject=f"user:{self._id('user', unit.code)}", unit=unit.path, name=f"Cán bộ {unit.name}")

    def issued_at(self, plan: Plan) -> datetime:
        """When a province issues its plan: early January, office hours."""
        index = [p.plan_id for p in self.plans].index(plan.plan_id)
        return datetime(self.year, 1, 5 + index % 10, 2, 0, tzinfo=UTC)

    def plan_envelopes(self, prefix: str) -> Iterator[tuple[str, bytes, dict[str, str]]]:
        """plan.issued of every plan, as the plans service publishes it."""
        rng = random.Random(f"{self.seed}/{self.year}/plans")
        for plan in self.plans:
            yield _wire(
                prefix,
                "plan.issued",
                plan.issued(),
                plan.issuer.path,
                "plans",
                self._official(plan.issuer),
                self.issued_at(plan),
                rng,
            )

    def assignment_envelopes(self, prefix: str) -> Iterator[tuple[str, bytes, dict[str, str]]]:
        """assignment.created of every assignment, as the tasks service publishes them when it
        handles plan.issued (services/tasks/handlers.py, the actor of the plan's issuer)."""
        rng = random.Random(f"{self.seed}/{self.year}/assignments")
        for plan in self.plans:
            actor, at = self._official(plan.issuer), self.issued_at(plan) + timedelta(seconds=1)
            for a in self.assignments(plan):
                payload = a.announced(plan_id=plan.plan_id, number=plan.number)
                yield _wire(prefix, "assignment.created", payload, a.unit.path, "tasks", actor, at, rng)

    def envelopes(self, prefix: str, summary: Summary | None = None) -> Iterator[tuple[str, bytes, dict[str, str]]]:
        """(subject, body, headers) of every progress event, as the tasks service's outbox relay
        publishes it: the envelope of producer `tasks` with the reporting official as its actor,
        the subject `<prefix>.<type>.<unit path>`, Nats-Msg-Id = the event id."""
        rng = random.Random(f"{self.seed}/{self.year}/envelopes")
        actors: dict[str, Actor] = {}
        for kind, payload in self.reports(summary):
            unit = payload.unit
            if (actor := actors.get(unit.code)) is None:
                actor = actors[unit.code] = self._official(unit)
            yield _wire(prefix, kind, payload, unit.path, "tasks", actor, payload.reported_at, rng)


def _wire(
    prefix: str,
    kind: str,
    payload: BaseModel,
    unit_path: str,
    producer: str,
    actor: Actor,
    at: datetime,
    rng: random.Random,
) -> tuple[str, bytes, dict[str, str]]:
    """(subject, body, headers) as an outbox relay publishes an event (shared/events.py's
    envelope, shared/outbox.py's subject and headers), its id drawn from `rng`."""
    envelope = Envelope(
        id=uuid.UUID(int=rng.getrandbits(128), version=4),
        type=kind,
        occurred_at=at,
        unit=unit_path,
        producer=producer,
        actor=actor,
        payload=payload.model_dump(mode="json"),
    )
    headers = {"Nats-Msg-Id": str(envelope.id), "content-type": "application/json"}
    return subject(prefix, kind, unit_path), envelope.model_dump_json().encode(), headers


@dataclass
class Published:
    count: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def publish(
    js: Any,
    messages: Iterable[tuple[str, bytes, dict[str, str]]] | AsyncIterable[tuple[str, bytes, dict[str, str]]],
    *,
    in_flight: int = 2000,
) -> Published:
    """Publish to JetStream with at most `in_flight` PubAcks outstanding (`js` from
    `nc.jetstream()`); counts what JetStream dropped as a duplicate (same Nats-Msg-Id) and errors."""
    done = Published()
    room = asyncio.Semaphore(in_flight)
    outstanding: set[asyncio.Future[Any]] = set()

    def settled(future: asyncio.Future[Any]) -> None:
        outstanding.discard(future)
        room.release()
        if future.cancelled():
            done.errors.append("cancelled")
        elif (exc := future.exception()) is not None:
            done.errors.append(repr(exc))
        elif getattr(future.result(), "duplicate", False):
            done.duplicates += 1

    async def one(subject_: str, body: bytes, headers: dict[str, str]) -> None:
        await room.acquire()
        future = await js.publish_async(subject_, body, headers=dict(headers))
        outstanding.add(future)
        future.add_done_callback(settled)
        done.count += 1

    start = time.perf_counter()
    if isinstance(messages, AsyncIterable):
        async for message in messages:
            await one(*message)
    else:
        for i, message in enumerate(messages):
            await one(*message)
            if i % 512 == 0:
                await asyncio.sleep(0)  # let the PubAcks in
    while outstanding:
        await asyncio.wait(set(outstanding))
    done.seconds = time.perf_counter() - start
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="progress events (the stream stops there)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--corrections", type=float, default=0.25, help="share of reports corrected later")
    parser.add_argument("--provinces", type=lambda s: tuple(s.split(",")), default=None, help="codes, default all 34")
    args = parser.parse_args()
    data = Dataset(args.events, args.seed, args.year, args.corrections, args.provinces)
    t0 = time.perf_counter()
    assignments = sum(len(month) for month in data.by_month())
    t1 = time.perf_counter()
    summary, size = Summary(), 0
    for _, body, _ in data.envelopes("cchc", summary):
        size += len(body)
    t2 = time.perf_counter()
    print(
        f"{len(data.units)} provinces, {data.communes:,} communes, {len(data.plans)} plans of {data.tasks_per_plan}"
        f" monthly tasks, {assignments:,} assignments ({t1 - t0:.1f} s)\n"
        f"{summary.events:,} events {dict(summary.types)}, {summary.reported:,} assignments reported,"
        f" newest statuses {dict(summary.statuses)}\n{summary.first} … {summary.last}; {size / 2**20:.0f} MB of"
        f" envelopes, {size / max(summary.events, 1):.0f} B each; generated in {t2 - t1:.1f} s"
        f" ({summary.events / (t2 - t1):,.0f} events/s)"
    )


if __name__ == "__main__":
    main()
