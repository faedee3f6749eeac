"""Benchmark: what hostile input costs the server on this machine (not a timed test; nothing is
started, nothing is stored).

  bomb       a .docx of < 1 MB whose document part unpacks to 200 MB: the time `check_zip` takes to
             refuse it, and this process's resident memory before and after (psutil) and its peak
  importer   `parse_plan` (read + resolve, as POST /api/plans/parse does in its worker) on generated
             hostile plans: a table laid out with spaces, 30 rows × 3,000 columns; a tab-separated
             plan of 48 KB and of ~1 MB (bench/importer_speed.py's generator); 20,000 numbered list
             items; a Word table with a cell merged down 2,000 rows (tests/fixtures/hostile.py)
  in_process shared/bounded.py: the first call (starts the forkserver, which imports PRELOAD), then
             min / p50 / max of 20 calls of a trivial function (a fresh worker each)
  documents  `docx_bytes` / `xlsx_bytes` of a synthetic province report: 135 communes, 1,000 tasks

Timings are wall-clock (perf_counter), median of --runs runs after one warm-up where it matters;
the whole run stays well under three minutes.

    .venv/bin/python bench/hostile_input.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Heavier modules are imported where they are used: a forkserver worker imports this script again.


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:,.2f} ms"


def mib(n: float, *, sign: bool = False) -> str:
    return f"{n / 2**20:+,.1f} MiB" if sign else f"{n / 2**20:,.1f} MiB"


def timed(work: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median seconds of `runs` calls, and the last result."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


# ---------------------------------------------------------------- inputs


def tab_plan(size: int) -> bytes:
    """bench/importer_speed.py's tab-separated plan, with as many rows as make about `size` bytes."""
    from importer_speed import text_table_plan

    per_row = len(text_table_plan(200)) / 200
    return text_table_plan(max(1, round(size / per_row)))


def province_report(children: int = 135, tasks: int = 1_000) -> Any:
    from services.reports.documents import PeriodicReport
    from shared.periods import Period

    states = dict.fromkeys(("done_on_time", "done_late", "in_progress", "overdue", "not_due"), 0)
    figures = {"expected": 2 * children * tasks, "reported": children * tasks, "on_time": children * tasks // 2}
    rates = {"completeness": 50.0, "timeliness": 50.0}
    outputs = {"broadcast": 3, "article": 2, "news": 1}
    return PeriodicReport(
        unit="52",
        unit_name="Tỉnh Gia Lai",
        unit_level="province",
        parent_name=None,
        period=Period.parse("2026-Q1"),
        view="current",
        issued_on=date(2026, 4, 5),
        number="15/BC-UBND",
        totals={**figures, **rates, "states": states},
        outputs={k: v * tasks for k, v in outputs.items()},
        outputs_by_area={"procedures": outputs, "digital_government": outputs},
        tasks=[
            {
                "task_ref": str(n),
                "task_title": f"Tuyên truyền cải cách thủ tục hành chính đợt {n}",
                "plan_number": "30/KH-UBND",
                "area": "procedures",
                "expected": 2 * children,
                "reported": children,
                "on_time": children // 2,
                "outputs": outputs,
                **rates,
            }
            for n in range(1, tasks + 1)
        ],
        children=[
            {
                "unit": f"{23000 + n:05d}",
                "name": f"Xã Thử Nghiệm {n}",
                "level": "commune",
                "expected": 2 * tasks,
                "reported": tasks,
                "on_time": tasks // 2,
                **rates,
            }
            for n in range(children)
        ],
        lagging=[
            {"unit": f"{23000 + n:05d}", "name": f"Xã Thử Nghiệm {n}", "missing": 3, "days_late": 12}
            | {"earliest_due": "2026-03-31"}
            for n in range(0, children, 9)
        ],
        highlights={
            "good_models": [
                {"unit": "23001", "name": "Xã Thử Nghiệm 1", "task_ref": "1", "task_title": "Tuyên truyền"}
                | {"text": f"Mô hình số {i}: livestream giải đáp thủ tục hành chính"}
                for i in range(60)
            ]
        },
    )


# ---------------------------------------------------------------- phases


def bomb_row() -> list[list[str]]:
    import psutil

    from shared.containers import ZipLimits, check_zip
    from shared.errors import InputError
    from tests.fixtures.hostile import docx_bomb

    bomb = docx_bomb()
    me = psutil.Process()
    before, peak_before = me.memory_info().rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    try:
        check_zip(bomb, ZipLimits())
        outcome = "accepted (!)"
    except InputError as exc:
        outcome = f"{exc.status}: {exc.problems[0].message[:60]}…"
    took = time.perf_counter() - start
    after, peak_after = me.memory_info().rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return [
        ["zip bomb", f"{mib(len(bomb))} → 200 MB", ms(took), f"RSS {mib(after - before, sign=True)}"],
        ["", "", "", f"peak RSS {mib(peak_after - peak_before, sign=True)} (this process)"],
        ["", "", "", outcome],
    ]


def importer_rows(runs: int) -> list[list[str]]:
    from services.plans.importer import parse_plan
    from tests.fixtures.hostile import laid_out_plan, merged_down, numbered_items

    cases: list[tuple[str, bytes, str]] = [
        ("wide table 30 × 3,000 columns", laid_out_plan(30, 3_000, width=10), "ke-hoach.txt"),
        ("tab-separated ~48 KB", tab_plan(48 * 1024), "ke-hoach.txt"),
        ("tab-separated ~1 MB", tab_plan(1024 * 1024), "ke-hoach.txt"),
        ("20,000 numbered items", numbered_items(20_000)[0], "ke-hoach.txt"),
        ("Word cell merged down 2,000 rows", merged_down(2_000)[0], "ke-hoach.docx"),
    ]
    parse_plan(*cases[1][1:])  # warm-up: imports, compiled patterns
    rows = []
    for label, content, name in cases:
        took, draft = timed(lambda content=content, name=name: parse_plan(content, name), runs)
        tasks = sum(1 for t in draft.as_json()["tasks"] if not t["group"])
        rows.append([label, f"{len(content) / 1024:,.0f} KB", ms(took), f"{tasks:,} tasks"])
    return rows


def in_process_rows() -> list[list[str]]:
    from shared.bounded import in_process

    async def call() -> float:
        start = time.perf_counter()
        await in_process(abs, -1, seconds=30, field="bench", what="Đo", setting="-")
        return time.perf_counter() - start

    async def measure() -> tuple[float, list[float]]:
        first = await call()
        return first, [await call() for _ in range(20)]

    first, later = asyncio.run(measure())
    p50 = statistics.median(later)
    return [
        ["in_process, first call", "forkserver + PRELOAD", ms(first), ""],
        ["in_process, 20 calls", "abs(-1)", ms(p50), f"min {ms(min(later))}, max {ms(max(later))}"],
    ]


def document_rows(runs: int) -> list[list[str]]:
    from services.reports.documents import docx_bytes, xlsx_bytes

    report = province_report()
    rows = []
    for label, make in (("province DOCX", docx_bytes), ("province XLSX", xlsx_bytes)):
        took, content = timed(lambda make=make: make(report), runs)
        rows.append([label, "135 communes, 1,000 tasks", ms(took), f"{len(content) / 1024:,.0f} KB"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each timed case (median)")
    args = parser.parse_args()
    began = time.perf_counter()
    rows = bomb_row()  # first: the peak RSS of this process is still the interpreter's
    rows += importer_rows(args.runs)
    rows += in_process_rows()
    rows += document_rows(args.runs)
    header = ["case", "input", "median", "notes"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"\nwhole run {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
