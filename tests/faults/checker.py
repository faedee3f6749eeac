"""The checker: with the system idle, what every client was told against what every view holds.

For each key, the history of its operations (tests/faults/load.py) allows a set of final states:
the state after the last ok operation, or after any unknown operation that followed it (an
unknown write may or may not have happened), and nothing else. Then:

- progress: the tasks service's latest report of each assignment, the number of reports it
  kept (at least the ok ones, at most ok + unknown: more is a report applied twice), and the
  reports read model's numbers for the commune (its roll-up) are each in the allowed set; the
  province roll-up is their sum, and its `reported` counts the communes that reported;
- periodic reports: each unit's last submission (version and state) is allowed;
- plans: each plan's version and state is allowed, and an issued plan's 135 assignments exist;
- notifications: every notice (assigned, due soon, overdue) is stored once per assignment and
  occurrence, and its mail reached the SMTP server as exactly one Message-ID per contact;
- the dead-letter stream holds exactly the poison messages injected, once per consuming service;
- a rebuild of the read model from the streams gives the same numbers;
- nothing is pending or unacknowledged, nothing is left in an outbox."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from tests.faults.load import PERIOD, PROVINCE, SUBMITTED_PERIOD, YEAR, History, Op, World, all_items, retry


@dataclass
class Verdict:
    requests: int = 0
    ok: int = 0
    failed: int = 0
    unknown: int = 0
    lost: int = 0  # an ok write no view holds
    doubled: int = 0  # a write applied twice
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def problem(self, text: str, *, lost: bool = False, doubled: bool = False) -> None:
        self.problems.append(text)
        self.lost += lost
        self.doubled += doubled

    def row(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "failed": self.failed,
            "unknown": self.unknown,
            "lost": self.lost,
            "doubled": self.doubled,
            **self.figures,
        }


def allowed(ops: list[Op], start: Any, step: Any) -> set[Any]:
    """The final states a key's operations allow: `step(state, op)` gives the state after op,
    or None when the op cannot apply in that state (then the server refused it)."""
    states = {start}
    for op in ops:
        after = {s2 for s in states if (s2 := step(s, op)) is not None}
        if op.outcome == "ok":
            states = after or states
        elif op.outcome == "unknown":
            states = states | after
    return states


def _report_value(outputs: dict[str, int] | None) -> tuple[tuple[str, int], ...] | None:
    if outputs is None:
        return None
    return tuple(sorted((k, v) for k, v in outputs.items() if v))


def _report_step(_: Any, op: Op) -> Any:
    return _report_value(op.value["outputs"])


def _submission_step(state: tuple[int, str] | None, op: Op) -> tuple[int, str] | None:
    version, status = state or (0, "")
    if op.kind == "submit":
        return (version + 1, "submitted") if status in ("", "returned", "reopened") else None
    if op.kind == "accept":
        return (version, "accepted") if status == "submitted" else None
    # a return takes back a submitted report, or reopens an accepted one (services/reports/submissions.py)
    return (version, "returned") if status in ("submitted", "accepted") else None


def _plan_step(state: tuple[str, int] | None, op: Op) -> tuple[str, int] | None:
    status, version = state or ("", 0)
    if op.kind == "issue":
        return ("issued", version) if status == "draft" else None
    if op.kind == "amend":
        return ("amended", version + 1) if status in ("issued", "amended") else None
    return None


async def check(deployment: Any, world: World, *, since: int = 0, poison: int = 0, rebuild: bool = True) -> Verdict:
    """Check everything the world's history allows; the request counts are those from operation
    `since` on (this run's)."""
    verdict = Verdict()
    history = world.history
    outcomes = History(history.ops[since:]).outcomes()
    verdict.requests, verdict.ok = len(history.ops) - since, outcomes["ok"]
    verdict.failed, verdict.unknown = outcomes["failed"], outcomes["unknown"]
    async with deployment.client(timeout=60) as client:
        await _progress(client, world, history, verdict)
        await _submissions(client, history, verdict)
        await _plans(client, history, verdict)
        await _notices(client, deployment, world, verdict)
        # One dead letter per consuming service and poisoned message, told apart by its message id
        # (shared.bus.dead_letter_id). A rebuild replays the poison to reports, which parks it again
        # under the same id: JetStream drops it within the stream's de-dup window (2 minutes), keeps
        # it beyond, so the stream may hold it twice: the same letter, counted once.
        letters = await deployment.dead_letters()
        distinct = {letter["id"] for letter in letters}
        verdict.figures["dead_letters"] = len(distinct)
        if len(distinct) != poison:
            verdict.problem(f"dead-letter stream holds {len(distinct)} letters, {poison} poison injected: {letters}")
        if rebuild:
            before = await _read_model(client, world)
            verdict.figures["rebuild_seconds"] = round(await rebuild_read_model(deployment), 1)
            after = await _read_model(client, world)
            if before != after:
                diff = {
                    k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)
                }
                verdict.problem(f"the read model rebuilt from the streams differs: {dict(list(diff.items())[:5])}")
    busy = await deployment.busy()
    if busy:
        verdict.problem(f"still in flight when idle: {busy}")
    return verdict


async def _progress(client: Any, world: World, history: History, verdict: Verdict) -> None:
    by_key: dict[str, list[Op]] = defaultdict(list)
    for op in history.of("report"):
        by_key[op.key].append(op)
    rollups: dict[str, Any] = {}
    reported, sums = 0, Counter[str]()
    for code, assignment in world.assignments.items():
        ops = by_key.get(assignment, [])
        allowed_values = allowed(ops, None, _report_step)
        detail = (await retry(lambda a=assignment: client.get(f"/api/assignments/{a}"))).json()
        kept = detail["pages"]["history"]["total"]
        latest = _report_value(detail["history"][-1]["outputs"]) if detail["history"] else None
        ok = sum(op.outcome == "ok" for op in ops)
        unknown = sum(op.outcome == "unknown" for op in ops)
        if kept < ok:
            verdict.problem(f"tasks kept {kept} reports of {code}, {ok} were acknowledged", lost=True)
        if kept > ok + unknown:
            verdict.problem(f"tasks kept {kept} reports of {code}, at most {ok + unknown} were sent", doubled=True)
        if latest not in allowed_values:
            verdict.problem(f"tasks: {code} counts {latest}, allowed {allowed_values}", lost=True)
        rollup = (
            await retry(
                lambda c=code: client.get(
                    "/api/reports/rollup", params={"unit": c, "period": PERIOD, "plan": world.plan_id}
                )
            )
        ).json()
        rollups[code] = rollup
        numbers = _report_value(rollup["outputs"]) or None
        if numbers not in allowed_values and not (numbers is None and () in allowed_values):
            doubled = (
                numbers is not None and latest is not None and sum(dict(numbers).values()) > sum(dict(latest).values())
            )
            verdict.problem(
                f"reports: {code} counts {numbers}, allowed {allowed_values}", lost=not doubled, doubled=doubled
            )
        if numbers:
            reported += 1
            sums.update(dict(numbers))
    province = (
        await retry(
            lambda: client.get(
                "/api/reports/rollup", params={"unit": PROVINCE, "period": PERIOD, "plan": world.plan_id}
            )
        )
    ).json()
    if {k: v for k, v in province["outputs"].items() if v} != dict(sums):
        verdict.problem(f"province roll-up {province['outputs']} is not the communes' sum {dict(sums)}")
    verdict.figures["reports_checked"] = len(world.assignments)


async def _submissions(client: Any, history: History, verdict: Verdict) -> None:
    by_key: dict[str, list[Op]] = defaultdict(list)
    for op in history.of(("submit", "accept", "return")):
        by_key[op.key].append(op)
    for unit, ops in by_key.items():
        allowed_states = allowed(ops, None, _submission_step)
        items = (await retry(lambda u=unit: client.get(f"/api/reports/{u}/{SUBMITTED_PERIOD}/submissions"))).json()[
            "items"
        ]
        last = (items[0]["version"], items[0]["status"]) if items else None
        if last not in allowed_states:
            verdict.problem(
                f"submissions of {unit}: {last}, allowed {allowed_states}",
                lost=last is None or (last[0] < max((s[0] for s in allowed_states if s), default=0)),
                doubled=last is not None and last[0] > max((s[0] for s in allowed_states if s), default=0),
            )
    verdict.figures["submissions_checked"] = len(by_key)


async def _plans(client: Any, history: History, verdict: Verdict) -> None:
    created = [op for op in history.of("create") if op.outcome == "ok"]
    for op in created:
        plan_id = op.answer["id"]
        ops = [o for o in history.of(("issue", "amend")) if o.key == plan_id]
        allowed_states = allowed(ops, ("draft", 1), _plan_step)
        plan = (await retry(lambda p=plan_id: client.get(f"/api/plans/{p}"))).json()
        state = (plan["status"], plan["version"])
        if state not in allowed_states:
            verdict.problem(f"plan {op.key}: {state}, allowed {allowed_states}", lost=True)
        if plan["status"] in ("issued", "amended"):
            made = await all_items(client, "/api/assignments", {"within": PROVINCE, "plan": plan_id})
            titles = {a["task_title"] for a in made}
            if len(made) != 135:  # one task, one due date: one assignment per commune
                verdict.problem(f"plan {op.key} issued: {len(made)} assignments in tasks", lost=len(made) < 135)
            wanted = plan["tasks"][0]["title"]
            if titles != {wanted}:
                verdict.problem(f"plan {op.key} v{plan['version']}: tasks has titles {titles}, not {wanted!r}")
    verdict.figures["plans_checked"] = len(created)


async def _notices(client: Any, deployment: Any, world: World, verdict: Verdict) -> None:
    """Each notice stored once, and mailed once (one Message-ID) to each contact of its unit."""
    async with deployment.database() as db:
        notices = await db.fetchval("SELECT count(*) FROM notify.notifications")  # one per dedup_key, by constraint
        twice = await db.fetch(
            "SELECT notification_id, contact_id, count(*) AS n FROM notify.deliveries WHERE channel = 'email'"
            " GROUP BY notification_id, contact_id HAVING count(*) > 1"
        )
        mails = await db.fetch("SELECT d.id, d.status FROM notify.deliveries d WHERE d.channel = 'email'")
    if twice:
        verdict.problem(f"{len(twice)} notices to be mailed twice to one contact", doubled=True)
    sent = [m for m in mails if m["status"] == "sent"]
    received = deployment.mailbox.by_message_id()
    verdict.figures["notices"] = notices
    verdict.figures["mails_sent"] = len(sent)
    verdict.figures["mails_received"] = len(received)
    verdict.figures["mails_resent_same_id"] = sum(n - 1 for n in received.values())
    if len(received) != len(sent):
        verdict.problem(f"{len(sent)} mails recorded sent, {len(received)} distinct Message-IDs received")
    pending = [m for m in mails if m["status"] != "sent"]
    if pending:
        verdict.problem(f"{len(pending)} mail deliveries not sent: {Counter(m['status'] for m in pending)}")


async def _read_model(client: Any, world: World) -> dict[str, Any]:
    views: dict[str, Any] = {}
    for period in (PERIOD, str(YEAR), f"{YEAR + 1}-Q1"):
        body = (
            await retry(lambda p=period: client.get("/api/reports/rollup", params={"unit": PROVINCE, "period": p}))
        ).json()
        views[period] = {k: body.get(k) for k in ("expected", "reported", "on_time", "states", "outputs")}
    children = await all_items(client, "/api/reports/children", {"unit": PROVINCE, "period": PERIOD})
    views["children"] = sorted((r["unit"], r["expected"], r["reported"], r["on_time"]) for r in children)
    return views


async def rebuild_read_model(deployment: Any) -> float:
    """`cchc rebuild-reports` as an operator runs it: the reports replicas stopped (SIGSTOP, so
    the supervisor does not start them again meanwhile), the read model emptied and its
    consumers reset, then the replicas killed and started again by the supervisor: they apply
    every event again from the streams. Returns the seconds until the system is idle again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    replicas = {n: int(i["pid"]) for n, i in deployment.processes().items() if i["service"] == "reports"}
    for pid in replicas.values():
        os.kill(pid, signal.SIGSTOP)
    started = time.monotonic()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
        env.update(
            CCHC_NATS_URL=deployment.nats_url,
            CCHC_STREAM_REPLICAS=str(3 if deployment.cluster >= 3 else 1),
            CCHC_DATABASE_URL=deployment.postgres.url,
        )
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "cchc.cli", "rebuild-reports"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    finally:
        for pid in replicas.values():
            os.kill(pid, signal.SIGKILL)
            os.kill(pid, signal.SIGCONT)
    while any(deployment.processes()[n]["pid"] == pid for n, pid in replicas.items()):  # noqa: ASYNC110
        await asyncio.sleep(0.5)
    await asyncio.to_thread(deployment.wait_healthy, timeout=120)
    await deployment.settled()
    return time.monotonic() - started
