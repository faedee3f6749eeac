"""The demo's story (cchc/demo_data.py): the same on every run, with every fate in it, and never
a report the calendar could not have."""

from __future__ import annotations

from collections import Counter
from datetime import date

import filetype
import pytest

from cchc.demo_data import NAMED, Assignment, commune_plan, photo, reports_for, submission, temperament
from services.plans.directory import official_units

pytestmark = pytest.mark.unit
COMMUNES = [u.code for u in official_units("52") if u.level == "commune"]
DECEMBER = date(2026, 12, 4)


def assignment(unit: str, period: str, due: date, ref: str = "1") -> Assignment:
    return Assignment(f"{unit}/{period}/{ref}", unit, unit.split("-")[0], ref, period, due)


def test_most_communes_issue_their_plan_some_do_not_and_the_named_ones_are_diligent() -> None:
    plans = Counter(commune_plan(code) for code in COMMUNES)
    assert plans["issued"] > 0.6 * len(COMMUNES)
    assert plans["none"] > 0 and plans["draft"] > 0
    assert {temperament(code) for code in NAMED} == {"diligent"}
    assert {temperament(code) for code in COMMUNES} == {"diligent", "slow", "silent"}


def test_no_report_for_an_occurrence_whose_period_has_not_begun() -> None:
    assert all(not reports_for(assignment(code, "2027-Q1", date(2027, 4, 15)), DECEMBER) for code in COMMUNES)


def test_a_silent_commune_reports_nothing_and_a_correction_ends_done() -> None:
    silent = next(code for code in COMMUNES if temperament(code) == "silent")
    assert not reports_for(assignment(silent, "2026-Q1", date(2026, 4, 15)), DECEMBER)
    made = [reports_for(assignment(code, "2026-Q1", date(2026, 4, 15)), DECEMBER) for code in COMMUNES]
    corrected = [r for r in made if len(r) == 2]
    assert corrected and all([r[0]["status"], r[-1]["status"]] == ["in_progress", "done"] for r in corrected)
    assert {r[-1]["status"] for r in made if r} == {"done", "in_progress", "cannot_do"}
    assert all(r[-1].get("reason") for r in made if r and r[-1]["status"] == "cannot_do")


def test_periodic_reports_are_accepted_returned_resent_and_waiting() -> None:
    fates = Counter(submission(code, period) for code in COMMUNES for period in ("Q1", "9M"))
    assert set(fates) == {"accepted", "returned", "resubmitted", "waiting", "none"}


def test_the_evidence_photo_is_a_png_the_tasks_service_recognises() -> None:
    kind = filetype.guess(photo("21787"))
    assert kind is not None and kind.mime == "image/png"
