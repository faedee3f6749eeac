"""The unit directory's source: official administrative units from the vietnam-provinces
package (34 provinces, 3,321 commune-level units, codes as published)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from vietnam_provinces import Province, ProvinceCode, Ward

from services.plans.domain import Unit
from shared.text import normalize

_PROVINCE_PREFIX = {"tỉnh": "Tỉnh", "thành phố trung ương": "Thành phố"}


def province_code(code: int | str) -> str:
    return f"{int(code):02d}"


# today's 34 provinces and centrally-run cities, by their two-digit code ("01" Hà Nội, "52" Gia Lai)
PROVINCES: frozenset[str] = frozenset(province_code(code.value) for code in ProvinceCode)


def _current_province(code: str) -> str:
    if code not in PROVINCES:
        raise ValueError(f"không có tỉnh mã {code!r} (mã hai chữ số của 34 tỉnh, thành phố hiện hành)")
    return code


CurrentProvince = Annotated[str, StringConstraints(max_length=2), AfterValidator(_current_province)]


def official_units(province: str) -> list[Unit]:
    """The province and its commune-level units; KeyError if the code is not a province."""
    try:
        record = Province.from_code(ProvinceCode(int(province)))
    except (ValueError, KeyError) as exc:
        raise KeyError(province) from exc
    code = province_code(record.code)
    kind = record.division_type.value
    name = (
        record.name
        if record.name.lower().startswith(("tỉnh", "thành phố"))
        else (f"{_PROVINCE_PREFIX.get(kind, kind.capitalize())} {record.name}")
    )
    units = [Unit(code=code, name=name, level="province", parent=None, path=code, valid_from=REFORM_DAY)]
    for ward in Ward.iter_all():
        if int(ward.province_code) == int(record.code):
            ward_code = f"{int(ward.code):05d}"
            units.append(
                Unit(
                    code=ward_code,
                    name=ward.name,
                    level="commune",
                    parent=code,
                    path=f"{code}.{ward_code}",
                    valid_from=REFORM_DAY,
                )
            )
    return units


# --- the structure before 1 July 2025 (63 provinces, districts, communes) -------------------

REFORM_DAY = date(2025, 7, 1)
LEGACY_END = date(2025, 6, 30)
LEGACY_PREFIX = "L"  # official codes were reused after the reform: legacy units are L<code>


@dataclass(frozen=True)
class Succession:
    """Where an ended unit's history rolls up: `default` marks the one successor of a split
    that receives the roll-up (the others are recorded for reference)."""

    old: str
    new: str
    default: bool


def _legacy_code(code: str | int, digits: int) -> str:
    """L + the official code with its zero-padding (2 digits province, 3 district, 5 commune),
    so Hà Nội (01), its district 001 and ward 00001 stay three different units."""
    return f"{LEGACY_PREFIX}{int(code):0{digits}d}"


def legacy_units(province: str) -> tuple[list[Unit], list[Succession]]:
    """The legacy provinces, districts and communes that now form `province`, and successions."""
    import json
    import sqlite3
    from pathlib import Path

    import vietnamadminunits

    data = Path(vietnamadminunits.__file__).parent / "data"
    current = official_units(province)  # KeyError for an unknown province
    converter = json.loads((data / "converter_2025.json").read_text())
    with sqlite3.connect(data / "dataset.db") as db:
        db.row_factory = sqlite3.Row
        new_rows = db.execute(
            "SELECT DISTINCT provinceKey, wardKey, ward, wardCode FROM admin_units WHERE CAST(provinceCode AS INT) = ?",
            (int(province),),
        ).fetchall()
        if not new_rows:
            raise KeyError(province)
        new_key = new_rows[0]["provinceKey"]
        # The two packages disagree on some codes (Canh Vinh: 22003 vs 22006): vietnam-provinces
        # is the official list, so its units are found by name, the other package's code second.
        # Names are compared with their diacritics (Văn Lang and Văn Lăng are two communes); the
        # diacritic-free form is used only where it names one commune.
        communes = [u for u in current if u.level == "commune"]
        exact = {unicodedata.normalize("NFC", u.name).casefold(): u.code for u in communes}
        loose: dict[str, list[str]] = {}
        for u in communes:
            loose.setdefault(normalize(u.name), []).append(u.code)
        codes = {u.code for u in communes}

        def official(row: sqlite3.Row) -> str | None:
            name = unicodedata.normalize("NFC", row["ward"]).casefold()
            if name in exact:
                return exact[name]
            candidates = loose.get(normalize(row["ward"]), [])
            if len(candidates) == 1:
                return candidates[0]
            by_code = f"{int(row['wardCode']):05d}"
            return by_code if by_code in codes else None

        new_ward_code = {r["wardKey"]: code for r in new_rows if (code := official(r))}
        old_province_keys = converter["DICT_PROVINCE"][new_key]
        placeholders = ",".join("?" * len(old_province_keys))
        old_rows = db.execute(
            f"SELECT DISTINCT province, district, ward, provinceCode, districtCode, wardCode, districtType, "
            f"provinceKey, districtKey, wardKey FROM admin_units_legacy WHERE provinceKey IN ({placeholders})",
            old_province_keys,
        ).fetchall()
    successor_of: dict[str, tuple[str, bool]] = {}
    for ward_key, old_keys in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].get(new_key, {}).items():
        for old_key in old_keys:
            if ward_key in new_ward_code:
                successor_of[old_key] = (new_ward_code[ward_key], True)
    divided: dict[str, list[tuple[str, bool]]] = {}
    for old_key, news in converter["DICT_PROVINCE_WARD_DIVIDED"].get(new_key, {}).items():
        divided[old_key] = [
            (new_ward_code[n["newWardKey"]], n["isDefaultNewWard"]) for n in news if n["newWardKey"] in new_ward_code
        ]

    units: dict[str, Unit] = {}
    successions: list[Succession] = []
    for row in old_rows:
        p_code, d_code = _legacy_code(row["provinceCode"], 2), _legacy_code(row["districtCode"], 3)
        units.setdefault(p_code, Unit(p_code, row["province"], "province", None, p_code, valid_to=LEGACY_END))
        district_name = row["district"]
        units.setdefault(
            d_code, Unit(d_code, district_name, "district", p_code, f"{p_code}.{d_code}", valid_to=LEGACY_END)
        )
        if row["wardCode"] is None:  # island districts had no communes
            continue
        w_code = _legacy_code(row["wardCode"], 5)
        units[w_code] = Unit(w_code, row["ward"], "commune", d_code, f"{p_code}.{d_code}.{w_code}", valid_to=LEGACY_END)
        old_key = f"{row['provinceKey']}_{row['districtKey']}_{row['wardKey']}"
        if old_key in successor_of:
            successions.append(Succession(w_code, *successor_of[old_key]))
        else:
            successions += [Succession(w_code, new, default) for new, default in divided.get(old_key, [])]
    province_code_ = current[0].code
    known = {u.code for u in current}
    # The two packages' lists differ on a few wards: never link to a unit we do not have; the
    # province still receives those communes' history.
    successions = [s for s in successions if s.new in known]
    linked = {s.old for s in successions}
    successions += [
        Succession(u.code, province_code_, True) for u in units.values() if u.level != "commune" or u.code not in linked
    ]
    return [*current, *units.values()], successions


class UnknownProvince(LookupError):
    """`provinces[index]` names no province in the chosen source."""

    def __init__(self, index: int, code: str) -> None:
        super().__init__(index, code)  # the arguments, so that it pickles back from a worker
        self.index, self.code = index, code


def units_of(source: str, provinces: list[str]) -> tuple[list[Unit], list[Succession]]:
    """The units of `provinces` from `source` ("vietnam-provinces": today's; "vietnamadminunits":
    the legacy ones with their successions): the CPU-heavy part of a load, run in a worker process
    (shared/bounded.py). UnknownProvince for a code the source does not have."""
    units: list[Unit] = []
    successions: list[Succession] = []
    for index, province in enumerate(provinces):
        try:
            if source == "vietnam-provinces":
                units += official_units(province)
            else:
                legacy, links = legacy_units(province)
                units += legacy
                successions += links
        except KeyError:
            raise UnknownProvince(index, province) from None
    return units, successions


def official_code(issuer: str) -> str | None:
    """The code of a People's Committee's unit named in a plan ('Ủy ban nhân dân xã Canh Vinh' →
    '22003'), when exactly one province or commune-level unit today has that name; None
    otherwise (a former district, a name several communes share)."""
    wanted = normalize(issuer).removeprefix("uy ban nhan dan ").removeprefix("ubnd ").strip()
    if not wanted:
        return None
    found = [
        province_code(p.code)
        for p in Province.iter_all()
        if normalize(p.name) == wanted or f"tinh {normalize(p.name)}" == wanted
    ]
    found += [f"{int(w.code):05d}" for w in Ward.iter_all() if normalize(w.name) == wanted]
    return found[0] if len(found) == 1 else None
