"""Bodies inside a unit (cơ quan, đơn vị, thôn, chức danh) and how their names are matched.

Officials write the same body many ways: "Phòng Văn hóa - Xã hội", "phòng VHXH", "P. Văn hoá
– Xã hội", "CC VHXH". Matching ignores case, diacritics and punctuation and expands the
common abbreviations, so all of these resolve to one body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from shared.text import normalize

# Abbreviations as they appear in plans, with what they stand for (normalized text).
ABBREVIATIONS: dict[str, str] = {
    "vhxh": "van hoa xa hoi",
    "vh-xh": "van hoa xa hoi",
    "vp-tk": "van phong thong ke",
    "vptk": "van phong thong ke",
    "tp-ht": "tu phap ho tich",
    "tpht": "tu phap ho tich",
    "dc-xd": "dia chinh xay dung",
    "ttpvhcc": "trung tam phuc vu hanh chinh cong",
    "tt pvhcc": "trung tam phuc vu hanh chinh cong",
    "hdnd": "hoi dong nhan dan",
    "ubnd": "uy ban nhan dan",
    "mttq": "mat tran to quoc",
    "vp": "van phong",
    "tt": "trung tam",
    "cc": "cong chuc",
    "cb": "can bo",
    "p.": "phong",
}

STANDARD_COMMUNE_BODIES: list[tuple[str, str]] = [
    ("VP", "Văn phòng HĐND và UBND"),
    ("VHXH", "Phòng Văn hóa - Xã hội"),
    ("KT", "Phòng Kinh tế"),
    ("TTPVHCC", "Trung tâm Phục vụ hành chính công"),
    ("TTDVC", "Trung tâm Cung ứng dịch vụ sự nghiệp công"),
    ("CA", "Công an xã"),
    ("MTTQ", "Ủy ban Mặt trận Tổ quốc Việt Nam xã"),
]
STANDARD_DISTRICT_BODIES: list[tuple[str, str]] = [
    ("NV", "Phòng Nội vụ"),
    ("VHTT", "Phòng Văn hóa và Thông tin"),
    ("TP", "Phòng Tư pháp"),
    ("TCKH", "Phòng Tài chính - Kế hoạch"),
    ("VP", "Văn phòng HĐND và UBND"),
    ("TTVH", "Trung tâm Văn hóa, Thông tin và Thể thao"),
]

_JOINERS = {"va", "cua"}
_LEADING = {"phong"}  # "Phòng Kinh tế" and "Kinh tế" are the same body
_TRAILING = {"xa", "phuong", "huyen", "tinh"}  # "Công an xã" within a commune is "Công an"


@lru_cache(maxsize=4096)  # a plan names the same bodies in task after task
def name_key(name: str) -> str:
    """The form two names of the same body share: 'Phòng VH-XH' and 'phong van hoa xa hoi' alike."""
    text = normalize(name).replace("–", "-")
    for short, long in sorted(ABBREVIATIONS.items(), key=lambda item: -len(item[0])):
        text = re.sub(rf"(?<![\w-]){re.escape(short)}(?![\w-])", long, text)
    words = [word for word in re.findall(r"[a-z0-9]+", text) if word not in _JOINERS]
    if len(words) > 1 and words[0] in _LEADING:
        words = words[1:]
    if len(words) > 1 and words[-1] in _TRAILING:
        words = words[:-1]
    return " ".join(words)


@dataclass(frozen=True)
class NamedUnit:
    code: str
    name: str


class NameIndex:
    """Candidates by the key of their name, built once: a plan naming thousands of bodies looks
    each up in constant time instead of keying every candidate again for every name."""

    def __init__(self, candidates: list[NamedUnit]) -> None:
        self._by_key: dict[str, list[NamedUnit]] = {}
        for candidate in candidates:
            self._by_key.setdefault(name_key(candidate.name), []).append(candidate)

    def match(self, name: str) -> NamedUnit | None:
        """The one candidate whose name means the same as `name`; None when none or several do."""
        key = name_key(name)
        if not key:
            return None
        found = self._by_key.get(key, [])
        if len(found) == 1:
            return found[0]
        return next((c for c in found if normalize(c.name) == normalize(name)), None)


def match(name: str, candidates: list[NamedUnit]) -> NamedUnit | None:
    """The one candidate whose name means the same as `name`; None when none or several do."""
    return NameIndex(candidates).match(name)


def body_code(parent: str, short: str) -> str:
    """Code of a body inside a unit: the unit's code and a short tag, e.g. 22006-VHXH."""
    return f"{parent}-{re.sub(r'[^A-Z0-9]', '', short.upper())}"


def short_tag(name: str) -> str:
    """A tag for a new body from its initials: 'Trường Tiểu học số 1' → 'TTHS1'."""
    words = re.findall(r"\w+", name)
    tag = "".join(normalize(w) if w.isdigit() or (w.isupper() and len(w) > 1) else normalize(w)[:1] for w in words)
    return re.sub(r"[^a-z0-9]", "", tag).upper()[:10] or "B"
