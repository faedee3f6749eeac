"""The plan importer on OCR-damaged text (issue 19): the damage generator does what it says, and
the importer's accuracy over all plans with hand-written facts, damaged at 10 and 20 %, stays at
least where it has been brought, with no more wrong values presented as certain than measured
(bench/importer_damage.py prints the whole curve, per field family and per damage class)."""

from __future__ import annotations

import unicodedata

import pytest

from tests.unit.damage import CLASSES, damage, plan_text, whole_letters
from tests.unit.damage_curve import measure
from tests.unit.importer_gold import document

pytestmark = pytest.mark.unit
CLEAN = plan_text(document("seed:004"))


def test_damage_is_the_same_for_the_same_seed_and_none_at_rate_zero() -> None:
    assert damage(CLEAN, 0.2, 7) == damage(CLEAN, 0.2, 7)
    assert damage(CLEAN, 0.2, 7) != damage(CLEAN, 0.2, 8)
    assert damage(CLEAN, 0.0, 7) == CLEAN


def test_each_damage_class_can_be_applied_alone() -> None:
    lost = damage(CLEAN, 0.3, 1, ["diacritics"])
    assert lost.count("\n") == CLEAN.count("\n")
    marks = sum(unicodedata.category(c) == "Mn" for c in unicodedata.normalize("NFD", lost))
    clean_marks = sum(unicodedata.category(c) == "Mn" for c in unicodedata.normalize("NFD", CLEAN))
    assert 0.5 * clean_marks < marks < 0.85 * clean_marks
    assert damage(CLEAN, 0.3, 1, ["breaks"]).count("\n") > CLEAN.count("\n")
    stamped = damage(CLEAN, 0.3, 1, ["stamps"])
    assert "ỦY BAN NHÂN DÂN" in stamped.replace(CLEAN, "") or stamped.count("\n") > CLEAN.count("\n")
    with pytest.raises(ValueError):
        damage(CLEAN, 0.1, 1, ["smudges"])
    assert set(CLASSES) == {"diacritics", "letters", "confusions", "breaks", "stamps", "roman"}


def test_a_few_letters_are_dropped_everywhere_only_at_high_rates() -> None:
    assert whole_letters(0.1, 1) == ""
    assert len(whole_letters(0.2, 1)) == 1 and len(whole_letters(0.3, 1)) == 2
    gone = whole_letters(0.3, 1)
    text = damage(CLEAN, 0.3, 1, ["letters"])
    assert not any(letter in text.lower() for letter in gone)


# The accuracy reached, share of all fields right (tasks, leads, coordinating bodies, timelines,
# header facts, duty bodies, reporting duties), and the most wrong values without a warning.
# Measured on 08/12/2026 (bench/importer_damage.py): 99.3 % and 0 at 0 %, 95.4 % and 0 at 10 %,
# 82.6 % and 0 at 20 % (before the phrase matching: 85.5 % and 16, 65.5 % and 7). Issue 19's
# 95 % at 10 %, 80 % at 20 % and "none wrong but certain" are met.
FLOORS = {0.0: (0.99, 0), 0.10: (0.95, 0), 0.20: (0.82, 0)}


@pytest.mark.parametrize("rate", sorted(FLOORS))
def test_the_importer_reads_damaged_plans_at_least_as_well_as_measured(rate: float) -> None:
    tally = measure(rate)
    share, wrong_but_certain = FLOORS[rate]
    assert tally.share() >= share, {f: tally.share(f) for f in tally.total}
    assert tally.wrong_but_certain <= wrong_but_certain, tally.examples
