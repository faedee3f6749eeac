"""Benchmark: how fast the periodic report renders as DOCX and XLSX, the rendering alone (not a
timed test; no server is started, nothing is queried or stored).

`services.reports.api` builds a `PeriodicReport` from the read model's queries, then calls
`docx_bytes` / `xlsx_bytes` on it in a worker process; bench/rollup_queries.py times the whole
request. This script builds the `PeriodicReport` in memory instead, in the shape the queries give
it, and times only the two renderers, so the figures hold no query and no HTTP:

  province-quarter  Gia Lai (52, 135 communes), quý I: 12 tasks, a row per commune, the
                    communes that lag, every good model, reason and note in scope
  province-year     the same province over the year
  national-year     all 34 provinces (3,321 communes) over the year: the country's 408 tasks,
                    a row per province, every lagging commune, ~23,000 notes, reasons and good
                    models. There is no national unit in the system (a province is a root, a
                    national user's scope is "*"): this is what the same code would render for one.

The data follow the seed of bench/rollup_queries.py (same tasks, texts and rates): each commune
leads 8 quarterly and 4 monthly tasks of its province's two plans; an occurrence is reported with
probability 0.93, 22 % of those late; 90 % done, 3 % cannot do (with a reason), 7 % in progress;
a note on 6 %, a good model on 0.5 % of those done; 2-4 product kinds per report. The report is
issued after its period, so every occurrence is due. Unit names are the official ones.

Each rendering: one warm-up, then the median and min of --runs runs (gc.collect() before each).

    .venv/bin/python bench/documents_speed.py [--runs 5] [--cases province-quarter,national-year]
    .venv/bin/python bench/documents_speed.py --profile province-quarter.docx   # cProfile top 15
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rollup_queries import GOOD_MODELS, MONTHLY, NOTES, QUARTERLY, REASONS, Task  # noqa: E402

from services.plans.directory import PROVINCES, official_units  # noqa: E402
from services.reports.documents import PeriodicReport, docx_bytes, xlsx_bytes  # noqa: E402
from services.reports.queries import task_key  # noqa: E402
from shared.periods import Period  # noqa: E402

PROVINCE = "52"  # Gia Lai, 135 communes
STATES = ("done_on_time", "done_late", "in_progress", "overdue", "not_due")


@dataclass
class Count:
    """What the queries count for one group (a task, a child unit, the whole report)."""

    expected: int = 0
    reported: int = 0
    on_time: int = 0
    states: Counter[str] = field(default_factory=Counter)

    def add(self, *, reported: bool, on_time: bool, done: bool) -> None:
        self.expected += 1
        self.reported += reported
        self.on_time += on_time
        self.states["done_on_time" if done and on_time else "done_late" if done else "overdue"] += 1

    def figures(self) -> dict[str, Any]:
        """As `queries.figures` gives them."""
        rate = (lambda n: round(n / self.expected, 4)) if self.expected else (lambda n: None)
        return {
            "expected": self.expected,
            "reported": self.reported,
            "on_time": self.on_time,
            "completeness": rate(self.reported),
            "timeliness": rate(self.on_time),
            "states": {state: self.states[state] for state in STATES},
        }


def occurrences(task_kind: str, period: Period) -> list[date]:
    """The due dates of one task's occurrences in `period` (the last day of each quarter or month)."""
    parts = period.quarters() if task_kind == "quarter" else period.months()
    return [part.end for part in parts]


def build(*, unit: str, name: str, level: str, provinces: list[str], period: Period, seed: int = 1) -> PeriodicReport:
    """The periodic report of `unit` over the communes of `provinces`, counted as the queries count."""
    rng = random.Random(seed)
    issued_on = period.end + timedelta(days=5)
    total = Count()
    by_child: dict[str, Count] = defaultdict(Count)
    by_task: dict[tuple[str, str], Count] = defaultdict(Count)
    outputs: Counter[str] = Counter()
    by_area: dict[str, Counter[str]] = defaultdict(Counter)
    task_outputs: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    tasks: dict[tuple[str, str], dict[str, Any]] = {}
    missing: dict[str, list[date]] = defaultdict(list)
    said: dict[str, list[dict[str, Any]]] = {"good_models": [], "notes": [], "cannot_do": []}
    names: dict[str, str] = {}
    expected: Counter[str] = Counter()  # per commune
    for code in provinces:
        province, *communes = official_units(code)
        names[code] = province.name
        catalogue: list[tuple[str, str, Task, list[date]]] = []  # (plan id, ref, task, due dates)
        for plan_kind, plan_tasks in (("quarter", QUARTERLY), ("month", MONTHLY)):
            plan_id, number = str(uuid.UUID(int=rng.getrandbits(128))), f"{rng.randint(5, 60)}/KH-UBND"
            for i, task in enumerate(plan_tasks, 1):
                ref = str(i) if plan_kind == "quarter" else f"II.{i}"
                catalogue.append((plan_id, ref, task, occurrences(plan_kind, period)))
                tasks[(plan_id, ref)] = {"plan_id": plan_id, "plan_number": number, "task_ref": ref, "task": task}
        for commune in communes:
            names[commune.code] = commune.name
            child = commune.code if unit == code else code  # a province's children are its communes
            for plan_id, ref, task, dues in catalogue:
                for due in dues:
                    expected[commune.code] += 1
                    reported = rng.random() < 0.93
                    on_time = reported and rng.random() >= 0.22
                    roll = rng.random()
                    status = "done" if roll < 0.90 else "cannot_do" if roll < 0.93 else "in_progress"
                    done = reported and status == "done"
                    for count in (total, by_child[child], by_task[(plan_id, ref)]):
                        count.add(reported=reported, on_time=on_time, done=done)
                    if not reported:
                        missing[commune.code].append(due)
                        continue
                    quoted = {
                        "assignment_id": str(uuid.UUID(int=rng.getrandbits(128))),
                        "unit": commune.code,
                        "name": commune.name,
                        "task_ref": ref,
                        "task_title": task.title,
                    }
                    if status == "cannot_do":
                        said["cannot_do"].append(quoted | {"text": rng.choice(REASONS)})
                        continue
                    kinds = rng.sample(list(task.products), k=min(len(task.products), rng.randint(2, 4)))
                    for kind in kinds[:1] if status == "in_progress" else kinds:
                        n = rng.randint(*task.products[kind])
                        outputs[kind] += n
                        by_area[task.area][kind] += n
                        task_outputs[(plan_id, ref)][kind] += n
                    if rng.random() < 0.06:
                        said["notes"].append(quoted | {"text": rng.choice(NOTES)})
                    if done and rng.random() < 0.005:
                        said["good_models"].append(quoted | {"text": rng.choice(GOOD_MODELS)})
    children = [
        {"unit": code, "name": names[code], "level": "commune" if level == "province" else "province"} | count.figures()
        for code, count in by_child.items()
    ]
    children.sort(key=lambda r: (r["completeness"] is None, r["completeness"] or 0, r["name"]))
    lagging: list[dict[str, Any]] = [
        {
            "unit": code,
            "name": names[code],
            "missing": len(dues),
            "expected": expected[code],
            "earliest_due": min(dues).isoformat(),
            "days_late": (issued_on - min(dues)).days,
        }
        for code, dues in missing.items()
    ]
    lagging.sort(key=lambda r: (-r["days_late"], -r["missing"], r["name"]))
    task_rows = [
        {
            "plan_id": row["plan_id"],
            "plan_number": row["plan_number"],
            "plan_title": f"Kế hoạch tuyên truyền cải cách hành chính năm {period.year}",
            "task_ref": row["task_ref"],
            "task_title": row["task"].title,
            "area": row["task"].area,
            **by_task[key].figures(),
            "outputs": dict(task_outputs[key]),
        }
        for key, row in tasks.items()
    ]
    task_rows.sort(key=task_key)
    for entries in said.values():
        entries.sort(key=lambda e: (e["unit"], e["task_ref"], e["assignment_id"]))
    return PeriodicReport(
        unit=unit,
        unit_name=name,
        unit_level=level,
        parent_name=None,
        period=period,
        view="current",
        issued_on=issued_on,
        number="15/BC-UBND",
        totals=total.figures(),
        outputs=dict(sorted(outputs.items())),
        outputs_by_area={area: dict(sorted(kinds.items())) for area, kinds in sorted(by_area.items())},
        tasks=task_rows,
        children=children,
        lagging=lagging,
        highlights=said,
        signer="Nguyễn Văn Bình",
    )


def cases(year: int) -> dict[str, Callable[[], PeriodicReport]]:
    gia_lai = official_units(PROVINCE)[0].name
    return {
        "province-quarter": lambda: build(
            unit=PROVINCE, name=gia_lai, level="province", provinces=[PROVINCE], period=Period.parse(f"{year}-Q1")
        ),
        "province-year": lambda: build(
            unit=PROVINCE, name=gia_lai, level="province", provinces=[PROVINCE], period=Period.parse(str(year))
        ),
        "national-year": lambda: build(
            unit="*", name="Toàn quốc", level="country", provinces=sorted(PROVINCES), period=Period.parse(str(year))
        ),
    }


RENDERERS: dict[str, Callable[[PeriodicReport], bytes]] = {"docx": docx_bytes, "xlsx": xlsx_bytes}


def timed(render: Callable[[PeriodicReport], bytes], report: PeriodicReport, runs: int) -> tuple[list[float], int]:
    """Milliseconds of each run after one warm-up, and the size of the file."""
    size = len(render(report))
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        render(report)
        times.append((time.perf_counter() - start) * 1000)
    return times, size


def shape(report: PeriodicReport) -> str:
    said = sum(len(entries) for entries in report.highlights.values())
    return (
        f"{len(report.children)} children, {len(report.tasks)} tasks, {len(report.lagging)} lagging,"
        f" {said:,} quoted; {report.totals['expected']:,} occurrences"
    )


def load() -> str:
    return "load " + " ".join(f"{n:.2f}" for n in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs of each rendering (default 5)")
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--cases", default="province-quarter,province-year,national-year")
    names = [f"{case}.{kind}" for case in cases(2026) for kind in RENDERERS]
    parser.add_argument("--profile", choices=names, help="cProfile one rendering instead (top 15 by own time)")
    args = parser.parse_args()
    made = cases(args.year)
    if args.profile:
        case, kind = args.profile.split(".")
        report = made[case]()
        RENDERERS[kind](report)  # warm-up
        profiler = cProfile.Profile()
        profiler.enable()
        RENDERERS[kind](report)
        profiler.disable()
        print(f"cProfile of {args.profile} ({shape(report)})\n")
        stats = pstats.Stats(profiler).strip_dirs()
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(15)
        return
    print(f"{args.runs} runs after a warm-up; {load()} at the start")
    for case in args.cases.split(","):
        report = made[case]()
        print(f"\n{case}: {shape(report)}")
        for kind, render in RENDERERS.items():
            times, size = timed(render, report, args.runs)
            print(
                f"  {kind}  median {statistics.median(times):7,.0f} ms   min {min(times):7,.0f} ms"
                f"   {size:>9,} B   ({load()})"
            )


if __name__ == "__main__":
    main()
