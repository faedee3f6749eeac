"""Who owns what between a hub and its sites (shared/federation.py): the filters each side's
streams source with never overlap, so nothing written on one side comes back to it."""

from __future__ import annotations

import re

import pytest

from shared.events import FAMILIES
from shared.federation import Federation, ancestors_of, domain_of

pytestmark = pytest.mark.unit

PREFIX = "cchc"
SITES = ("52.21787", "52.100.21853")


def matches(pattern: str, subject: str) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\*", r"[^.]+").replace(r"\>", r".+") + "$"
    return re.match(regex, subject) is not None


def filters(federation: Federation, family: str) -> list[str]:
    return [t.src for source in federation.sources(family) for t in source.subject_transforms or []]


def test_the_domain_and_the_units_above() -> None:
    assert domain_of("52.21787") == "site-52-21787"
    assert ancestors_of("52.100.21853") == ["52", "52.100"]
    assert ancestors_of("52") == []


def test_each_unit_is_served_by_exactly_one_side() -> None:
    hub = Federation(PREFIX, sites=SITES)
    sides = [hub, *(Federation(PREFIX, site=s) for s in SITES)]
    for path in ("52", "52.21787", "52.21787.VHXH", "52.217870", "52.100", "52.100.21853", "48.20000"):
        assert sum(side.serves(path) for side in sides) == 1, path
    assert Federation(PREFIX).serves("52.21787")  # no sites: everything here


@pytest.mark.parametrize("site", SITES)
def test_what_goes_down_never_goes_back_up(site: str) -> None:
    hub, here = Federation(PREFIX, sites=SITES), Federation(PREFIX, site=site)
    samples = [
        f"{PREFIX}.{family}.{kind}.{path}"
        for family in FAMILIES
        for kind in ("created", "issued", "reported", "accepted", "submitted")
        for path in ("52", "52.100", site, f"{site}.VHXH", "52.99999", "48")
    ]
    for family in FAMILIES:
        down, up = filters(here, family), [f for f in filters(hub, family) if f".{site}" in f]
        for subject in samples:
            assert not (any(matches(d, subject) for d in down) and any(matches(u, subject) for u in up)), subject
        # the hub takes from a site only what is about the site's own subtree
        for subject in samples:
            if any(matches(u, subject) for u in up):
                path = subject.split(".", 3)[3]
                assert path == site or path.startswith(site + "."), subject


def test_a_site_takes_the_plans_above_it_and_the_decisions_on_its_reports() -> None:
    here = Federation(PREFIX, site="52.100.21853")
    assert filters(here, "plan") == [f"{PREFIX}.plan.*.52", f"{PREFIX}.plan.*.52.100"]
    assert all(".accepted." in f or ".returned." in f for f in filters(here, "report"))
    assert filters(here, "progress") == []
    (source,) = here.sources("plan")
    assert source.external is not None and source.external.api == "$JS.hub.API"
    # its deliveries cross the leaf connection on a subject outside the ones it denies
    assert source.external.deliver and not source.external.deliver.startswith(PREFIX + ".")
