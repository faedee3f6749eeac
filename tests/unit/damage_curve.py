"""The importer's accuracy over OCR damage rates (issue 19): every plan in GOLD damaged at each
rate with a few seeds (tests/unit/damage.py), parsed as text, scored against its hand-written
facts per field family, and the values that are wrong yet carry no warning counted apart
("wrong but certain": the target is none). Used by tests/unit/test_importer_damage.py and by
bench/importer_damage.py, which prints the table the README quotes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from services.plans.importer import parse_plan
from services.plans.importer.names import BodyNames
from shared.text import normalize
from tests.unit.damage import CLASSES, damage, plan_text
from tests.unit.importer_gold import GOLD, document, same_bodies, same_body, same_timeline

RATES = (0.0, 0.05, 0.10, 0.20, 0.30)
SEEDS = (1, 2, 3)
FAMILIES = ("tasks", "leads", "coordinating", "timelines", "header", "duties", "reporting")
# The words a warning about a header fact uses: a wrong fact with such a warning is flagged.
HEADER_WARNINGS = {
    "number": ("số kế hoạch", "số, ký hiệu"),
    "date": ("ngày ban hành", "ngày tháng ban hành"),
    "period": ("kỳ của kế hoạch",),
    "place": ("địa danh",),
    "title": ("tiêu đề",),
    "issuer": ("cơ quan ban hành",),
    "parent": ("kế hoạch cấp trên", "ngày của kế hoạch"),
}
TEXT_SIMILAR = 80  # a title, place or issuer read from damaged text is right when this similar


@dataclass
class Tally:
    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAMILIES, 0))
    total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAMILIES, 0))
    certain_wrong: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAMILIES, 0))
    examples: list[str] = field(default_factory=list)

    def add(self, family: str, right: bool, *, wrong_unflagged: bool = False, detail: str = "") -> None:
        self.total[family] += 1
        self.right[family] += right
        if not right and wrong_unflagged:
            self.certain_wrong[family] += 1
            self.examples.append(f"{family}: {detail}")

    def merge(self, other: Tally) -> None:
        for family in FAMILIES:
            self.right[family] += other.right[family]
            self.total[family] += other.total[family]
            self.certain_wrong[family] += other.certain_wrong[family]
        self.examples += other.examples

    def share(self, family: str | None = None) -> float:
        families = FAMILIES if family is None else (family,)
        total = sum(self.total[f] for f in families)
        return sum(self.right[f] for f in families) / total if total else 1.0

    @property
    def wrong_but_certain(self) -> int:
        return sum(self.certain_wrong.values())


def _similar(got: str, want: str, *, contains: bool = False) -> bool:
    a, b = normalize(got), normalize(want)
    if not a:
        return not b
    return (fuzz.partial_ratio(b, a) if contains else fuzz.ratio(a, b)) >= TEXT_SIMILAR


def tally(parsed: dict[str, Any], gold: dict[str, Any], key: str = "") -> Tally:
    names = BodyNames.standard(common=False).with_names([d["body"] for d in gold.get("duties", [])])
    result = Tally()
    warned_lines = {w["line"] for w in parsed["warnings"] if w["line"] is not None}
    messages = [w["message"] for w in parsed["warnings"]]

    def header(label: str, right: bool, present: bool, shown: object) -> None:
        flagged = any(word in m for m in messages for word in HEADER_WARNINGS[label])
        result.add("header", right, wrong_unflagged=present and not flagged, detail=f"{key} {label} {shown!r}")

    header("number", parsed["number"] == gold["number"], bool(parsed["number"]), parsed["number"])
    header("date", parsed["date"] == gold["date"], parsed["date"] is not None, parsed["date"])
    header("period", parsed["period"] == gold["period"], bool(parsed["period"]), parsed["period"])
    if gold.get("place") is not None:
        header("place", _similar(parsed["place"], gold["place"]), bool(parsed["place"]), parsed["place"])
    header(
        "title",
        _similar(parsed["title"], gold["title_contains"], contains=True),
        bool(parsed["title"]),
        parsed["title"],
    )
    if gold.get("issuer_name"):
        issuer = parsed["issuer"]["name"]
        header("issuer", _similar(issuer, gold["issuer_name"]), bool(issuer), issuer)
    want_parent, got_parent = gold.get("parent"), parsed.get("parent")
    parent_right = (want_parent is None and got_parent is None) or (
        want_parent is not None
        and got_parent is not None
        and (got_parent["number"], got_parent["date"]) == (want_parent["number"], want_parent["date"])
    )
    header("parent", parent_right, got_parent is not None, got_parent)

    got_by_ref = {t["ref"]: t for t in parsed["tasks"]}
    wanted_refs = {w["ref"] for w in gold["tasks"]}
    for want in gold["tasks"]:
        got = got_by_ref.get(want["ref"])
        matched = got is not None and got["group"] == want["group"]
        result.add("tasks", matched)
        flagged = got is not None and got["line"] in warned_lines
        for family, attribute in (("leads", "lead"), ("coordinating", "coordinating")):
            if not matched or got is None:
                result.add(family, False)
            elif want["group"]:
                result.add(family, True)
            else:
                right = same_bodies(got[attribute], want[attribute], names)
                result.add(
                    family,
                    right,
                    wrong_unflagged=bool(got[attribute]) and not flagged,
                    detail=f"{key} task {want['ref']} {got[attribute]} ≠ {want[attribute]}",
                )
        if not matched or got is None:
            result.add("timelines", False)
        elif want["group"]:
            result.add("timelines", True)
        else:
            right = same_timeline(got["timeline"], want["timeline"])
            result.add(
                "timelines",
                right,
                wrong_unflagged=got["timeline"] is not None and not flagged,
                detail=f"{key} task {want['ref']} {got['timeline']} ≠ {want['timeline']}",
            )
    for got in parsed["tasks"]:  # a task the document does not have, given as certain
        if got["ref"] not in wanted_refs and got["line"] not in warned_lines:
            result.certain_wrong["tasks"] += 1
            result.examples.append(f"tasks: {key} task {got['ref']!r} not in the document")

    got_duties = parsed["duties"]
    duty_lines = sorted(d["line"] for d in got_duties)
    for index, want in enumerate(gold.get("duties", [])):
        got = got_duties[index] if index < len(got_duties) else None
        right = got is not None and same_body(got["body"], want["body"], names)
        flagged = got is not None and (got["line"] in warned_lines or (got["unit"] or {}).get("name") is None)
        result.add(
            "duties",
            right,
            wrong_unflagged=got is not None and not flagged,
            detail=f"{key} duty {index + 1} {got and got['body']!r} ≠ {want['body']!r}",
        )
        want_reporting = {(r["every"], r["by"]) for r in want["reporting"]}
        got_reporting = {(r["every"], r["by"]) for r in got["reporting"]} if right and got else set()
        for pair in want_reporting:
            result.add("reporting", pair in got_reporting)
        if got is not None and right:
            end = next((line for line in duty_lines if line > got["line"]), 10**9)
            duty_flagged = any(got["line"] <= line < end for line in warned_lines)
            for pair in got_reporting - want_reporting:
                if not duty_flagged:
                    result.certain_wrong["reporting"] += 1
                    result.examples.append(f"reporting: {key} {want['body']!r} {pair}")
    return result


def measure(
    rate: float, *, seeds: Iterable[int] = SEEDS, classes: Iterable[str] = CLASSES, keys: Iterable[str] | None = None
) -> Tally:
    total = Tally()
    classes = tuple(classes)
    for key in keys or GOLD:
        clean = plan_text(document(key))
        for seed in seeds if rate else (0,):
            text = damage(clean, rate, seed, classes)
            parsed = parse_plan(text.encode("utf-8"), "damaged.txt").as_json()
            total.merge(tally(parsed, GOLD[key], f"{key}@{rate:.0%}/{seed}"))
    return total
