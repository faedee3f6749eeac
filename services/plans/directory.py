"""The unit directory's source: official administrative units from the vietnam-provinces
package (34 provinces, 3,321 commune-level units, codes as published)."""

from __future__ import annotations

from vietnam_provinces import Province, ProvinceCode, Ward

from services.plans.domain import Unit

_PROVINCE_PREFIX = {"tỉnh": "Tỉnh", "thành phố trung ương": "Thành phố"}


def province_code(code: int | str) -> str:
    return f"{int(code):02d}"


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
    units = [Unit(code=code, name=name, level="province", parent=None, path=code)]
    for ward in Ward.iter_all():
        if int(ward.province_code) == int(record.code):
            ward_code = f"{int(ward.code):05d}"
            units.append(Unit(code=ward_code, name=ward.name, level="commune", parent=code, path=f"{code}.{ward_code}"))
    return units
