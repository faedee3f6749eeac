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

# Bodies plans name at every level besides a unit's own offices: the mass organisations of the
# Fatherland Front, the specialised offices of a district or a province, the commune's civil
# servants by their field. Written without their level ("Đoàn Thanh niên", not "… xã"): the
# importer reads a damaged name back to one of these, at the level the plan writes after it.
# General vocabulary of Vietnamese administration, not any one plan's.
COMMON_BODIES: tuple[str, ...] = (
    "Ủy ban Mặt trận Tổ quốc Việt Nam",
    "Đoàn Thanh niên",
    "Đoàn Thanh niên Cộng sản Hồ Chí Minh",
    "Hội Liên hiệp Phụ nữ",
    "Hội Nông dân",
    "Hội Cựu chiến binh",
    "Hội Người cao tuổi",
    "Hội Chữ thập đỏ",
    "Hội Khuyến học",
    "Công đoàn",
    "Liên đoàn Lao động",
    "Công an",
    "Ban Chỉ huy Quân sự",
    "Tổ công nghệ số cộng đồng",
    "Văn phòng HĐND và UBND",
    "Văn phòng UBND",
    "Văn phòng Đảng ủy",
    "Phòng Nội vụ",
    "Phòng Tư pháp",
    "Phòng Tài chính - Kế hoạch",
    "Phòng Kinh tế",
    "Phòng Kinh tế - Hạ tầng",
    "Phòng Kinh tế, Hạ tầng và Đô thị",
    "Phòng Văn hóa - Xã hội",
    "Phòng Văn hóa và Thông tin",
    "Phòng Giáo dục và Đào tạo",
    "Phòng Y tế",
    "Phòng Dân tộc",
    "Phòng Tài nguyên và Môi trường",
    "Phòng Nông nghiệp và Môi trường",
    "Phòng Lao động - Thương binh và Xã hội",
    "Phòng Quản lý đô thị",
    "Thanh tra",
    "Sở Nội vụ",
    "Sở Tư pháp",
    "Sở Tài chính",
    "Sở Thông tin và Truyền thông",
    "Sở Văn hóa, Thể thao và Du lịch",
    "Sở Khoa học và Công nghệ",
    "Sở Giáo dục và Đào tạo",
    "Sở Y tế",
    "Trung tâm Phục vụ hành chính công",
    "Trung tâm Cung ứng dịch vụ sự nghiệp công",
    "Trung tâm Văn hóa, Thông tin và Thể thao",
    "Trung tâm Y tế",
    "Trạm Y tế",
    "Đài Truyền thanh",
    "Bưu điện",
    "Công chức Văn hóa - Xã hội",
    "Công chức Văn phòng - Thống kê",
    "Công chức Tư pháp - Hộ tịch",
    "Công chức Địa chính - Xây dựng",
    "Công chức Tài chính - Kế toán",
)
# The levels a body's name ends with, as written.
LEVELS: tuple[str, ...] = ("xã", "phường", "thị trấn", "đặc khu", "huyện", "quận", "thị xã", "thành phố", "tỉnh")

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
