"""The CPU-heavy part of a load of units (`units_of`), run in a worker process by POST
/api/units/load: what it returns and raises must come back across the pipe (pickled)."""

from __future__ import annotations

import pickle

import pytest

from services.plans.directory import UnknownProvince, units_of

pytestmark = pytest.mark.unit


def test_the_units_of_a_province_and_its_legacy_successions_survive_pickling() -> None:
    units, successions = units_of("vietnam-provinces", ["52"])
    assert len(units) == 1 + 135 and successions == []
    assert pickle.loads(pickle.dumps((units, successions))) == (units, successions)
    legacy, links = units_of("vietnamadminunits", ["52"])
    assert links and pickle.loads(pickle.dumps((legacy, links))) == (legacy, links)


def test_an_unknown_province_is_named_by_its_place_in_the_list_even_after_pickling() -> None:
    with pytest.raises(UnknownProvince) as raised:
        units_of("vietnamadminunits", ["52", "99"])
    back = pickle.loads(pickle.dumps(raised.value))
    assert (back.index, back.code) == (1, "99")
