"""Scoring a parsed plan against the facts written by hand in tests/fixtures/plans/gold.json:
used by the importer's tests and by bench/importer_accuracy.py, which prints the figures the
README quotes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.plans.bodies import name_key
from services.plans.importer.names import BodyNames
from shared.text import normalize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "plans"
SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
GOLD: dict[str, dict[str, Any]] = json.loads((FIXTURES / "gold.json").read_text(encoding="utf-8")) | {
    f"{folder}/{name}": facts
    for folder in ("extra", "blind")
    for name, facts in json.loads((FIXTURES / folder / "gold.json").read_text(encoding="utf-8")).items()
}


def document(key: str) -> Path:
    """The file a gold entry is about: a fixture, or 'seed:001' → ../shared/seeds/001_*.txt."""
    if key.startswith("seed:"):
        return sorted(SEEDS.glob(f"{key.removeprefix('seed:')}_*.txt"))[0]
    return FIXTURES / key


def same_body(a: str, b: str, names: BodyNames) -> bool:
    if name_key(a) == name_key(b) or normalize(a) == normalize(b):
        return True
    ra, rb = names.resolve(a), names.resolve(b)
    return ra.name is not None and ra.name == rb.name


def same_bodies(got: list[str], want: list[str], names: BodyNames) -> bool:
    return len(got) == len(want) and all(any(same_body(g, w, names) for g in got) for w in want)


def same_timeline(got: dict[str, Any] | None, want: dict[str, Any] | None) -> bool:
    if got is None or want is None:
        return got is want
    return all(got.get(key) == value for key, value in want.items())


@dataclass
class Score:
    """What a parse got right, counted against the gold."""

    header: dict[str, bool] = field(default_factory=dict)
    tasks_expected: int = 0
    tasks_found: int = 0
    tasks_matched: int = 0  # same ref and group flag, in order
    leads_right: int = 0
    coordinating_right: int = 0
    timelines_right: int = 0
    duties_expected: int = 0
    duties_right: int = 0  # the body
    reporting_expected: int = 0
    reporting_right: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def perfect(self) -> bool:
        return not self.misses


def score(parsed: dict[str, Any], gold: dict[str, Any]) -> Score:
    names = BodyNames.standard(common=False).with_names([d["body"] for d in gold.get("duties", [])])
    result = Score()

    def check(label: str, ok: bool, detail: str) -> None:
        result.header[label] = ok
        if not ok:
            result.misses.append(f"{label}: {detail}")

    check("number", parsed["number"] == gold["number"], f"{parsed['number']!r} ≠ {gold['number']!r}")
    check("date", parsed["date"] == gold["date"], f"{parsed['date']!r} ≠ {gold['date']!r}")
    check("period", parsed["period"] == gold["period"], f"{parsed['period']!r} ≠ {gold['period']!r}")
    if gold.get("place") is not None:
        check("place", normalize(parsed["place"]) == normalize(gold["place"]), f"{parsed['place']!r}")
    check(
        "title",
        normalize(gold["title_contains"]) in normalize(parsed["title"]),
        f"{parsed['title']!r} lacks {gold['title_contains']!r}",
    )
    if gold.get("issuer_name"):
        check("issuer", parsed["issuer"]["name"] == gold["issuer_name"], repr(parsed["issuer"]["name"]))
    want_parent, got_parent = gold.get("parent"), parsed.get("parent")
    check(
        "parent",
        (want_parent is None and got_parent is None)
        or (
            want_parent is not None
            and got_parent is not None
            and (got_parent["number"], got_parent["date"]) == (want_parent["number"], want_parent["date"])
        ),
        f"{got_parent!r} ≠ {want_parent!r}",
    )

    want_tasks, got_tasks = gold["tasks"], parsed["tasks"]
    result.tasks_expected, result.tasks_found = len(want_tasks), len(got_tasks)
    got_by_ref = {t["ref"]: t for t in got_tasks}
    for want in want_tasks:
        got = got_by_ref.get(want["ref"])
        if got is None or got["group"] != want["group"]:
            result.misses.append(f"task {want['ref']}: {'missing' if got is None else 'group flag differs'}")
            continue
        result.tasks_matched += 1
        if want["group"]:
            result.leads_right += 1
            result.coordinating_right += 1
            result.timelines_right += 1
            continue
        for attribute, counter in (("lead", "leads_right"), ("coordinating", "coordinating_right")):
            if same_bodies(got[attribute], want[attribute], names):
                setattr(result, counter, getattr(result, counter) + 1)
            else:
                result.misses.append(f"task {want['ref']} {attribute}: {got[attribute]} ≠ {want[attribute]}")
        if same_timeline(got["timeline"], want["timeline"]):
            result.timelines_right += 1
        else:
            result.misses.append(f"task {want['ref']} timeline: {got['timeline']} ≠ {want['timeline']}")
    extra = [t["ref"] for t in got_tasks if t["ref"] not in {w["ref"] for w in want_tasks}]
    if extra:
        result.misses.append(f"tasks not in the document: {extra}")

    want_duties, got_duties = gold.get("duties", []), parsed["duties"]
    result.duties_expected = len(want_duties)
    for index, want in enumerate(want_duties):
        result.reporting_expected += len(want["reporting"])
        got = got_duties[index] if index < len(got_duties) else None
        if got is None or not same_body(got["body"], want["body"], names):
            result.misses.append(f"duty {index + 1}: {got and got['body']!r} ≠ {want['body']!r}")
            continue
        result.duties_right += 1
        got_reporting = {(r["every"], r["by"]) for r in got["reporting"]}
        want_reporting = {(r["every"], r["by"]) for r in want["reporting"]}
        result.reporting_right += len(got_reporting & want_reporting)
        if got_reporting != want_reporting:
            shown = [sorted(pairs, key=str) for pairs in (got_reporting, want_reporting)]
            result.misses.append(f"duty {want['body']!r} reporting: {shown[0]} ≠ {shown[1]}")
    if len(got_duties) != len(want_duties):
        result.misses.append(f"{len(got_duties)} duties found, {len(want_duties)} in the document")
    return result
