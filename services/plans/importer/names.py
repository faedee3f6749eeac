"""Names in a plan resolved against what we know: body names ("P ò g Vă   óa - Xã hội",
"phong VHXH") matched to the unit directory's bodies with a confidence, and the words of a task
mapped to the fixed vocabularies of content areas, channels and product kinds."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from services.plans.bodies import (
    ABBREVIATIONS,
    COMMON_BODIES,
    LEVELS,
    STANDARD_COMMUNE_BODIES,
    STANDARD_DISTRICT_BODIES,
    name_key,
)
from services.plans.importer.lines import without_stamp_words
from services.plans.importer.vocabulary import Vocabulary, dropped, is_syllable, repaired, restored, skeleton
from shared.text import normalize

ACCEPT = 0.8  # below this similarity a name is kept as written, unresolved
COMMON_ACCEPT = 0.85  # a damaged name read as one of the common bodies when this alike …
COMMON_MARGIN = 0.05  # … and this much more alike than with any other common body


@dataclass(frozen=True)
class Known:
    name: str
    code: str | None = None


@dataclass(frozen=True)
class Resolved:
    text: str  # as written (OCR damage repaired only where the match is certain)
    name: str | None  # the directory's name, None when nothing matched well enough
    code: str | None
    confidence: float

    def as_json(self) -> dict[str, object]:
        return {"text": self.text, "name": self.name, "code": self.code, "confidence": round(self.confidence, 2)}


# "Các cơ quan, đơn vị", "UBND các xã, thị trấn": who, but no one body.
_GENERIC = re.compile(r"^(cac|toan the|nhung|moi|tat ca|ubnd cac|uy ban nhan dan cac)\b")


# "UBND Trung tâm …", "UBND Công an xã": a stamp's "UBND" before a body's name, which no name opens with.
STAMPED = re.compile(
    r"^(?:UBND|ỦY BAN NHÂN DÂN|CHỦ TỊCH|ĐÃ KÝ)\s+(?=(?:Trung tâm|Phòng|Công an|Văn phòng|Hội|Đoàn|Tổ|Công chức|Sở)\b)"
)


def is_generic(text: str) -> bool:
    """Who, but no one body: "Các cơ quan, đơn vị", "UBND các xã, thị trấn"."""
    return bool(_GENERIC.match(normalize(text)))


# The collective bodies plans name, as they are usually written: a damaged one ("Cac c quan, ơn
# vị", "UND các xã, thị trấn") is read back to its usual wording when nearly the same.
GENERIC_NAMES = (
    "Các cơ quan, đơn vị",
    "Các cơ quan, đơn vị có liên quan",
    "Các cơ quan, đơn vị liên quan",
    "Các cơ quan, đơn vị thuộc UBND xã",
    "Các cơ quan, đơn vị thuộc UBND huyện",
    "Các cơ quan, đơn vị thuộc xã",
    "Các cơ quan chuyên môn thuộc UBND huyện",
    "Các phòng, ban chuyên môn",
    "Các phòng ban chuyên môn, đơn vị sự nghiệp",
    "UBND các xã, thị trấn",
    "UBND các xã, phường",
    "UBND các xã, phường, thị trấn",
    "Các thôn, làng",
    "Các thôn/làng",
    "Các thôn",
    "Các thôn, buôn",
    "Các thôn, tổ dân phố",
    "Các ấp",
    "Các đoàn thể",
    "Các ban, ngành, đoàn thể",
    "Các ban, ngành, đoàn thể xã",
    "Các tổ chức chính trị - xã hội",
    "Các tổ dân phố",
    "Các sở, ban, ngành tỉnh",
    "UBND các xã, phường, đặc khu",
    *(f"Các cơ quan, đơn vị thuộc UBND {level}" for level in ("phường", "đặc khu", "tỉnh")),
)
_LEVELS = re.compile(r"\b(?:xa|phuong|thi tran|huyen|tinh|dac khu|thanh pho|thi xa|quan)\b")
_GENERIC_FORMS = [(normalize(name), name) for name in GENERIC_NAMES]
_GENERIC_PLAIN = {form for form, _ in _GENERIC_FORMS}
GENERIC_ALIKE = 90  # % alike with a usual collective wording to be read as it


def generic_name(text: str) -> tuple[str, float] | None:
    """The usual wording of a collective body `text` is a damaged copy of, with how alike they are."""
    norm = normalize(text)
    fixed = repaired(norm)
    forms = {norm, fixed}
    score, name = max((fuzz.ratio(form, usual), name) for usual, name in _GENERIC_FORMS for form in forms)
    # the levels it names must be among the usual wording's: "… thuộc UBND đặc khu" is no "… thuộc UBND xã"
    if score < GENERIC_ALIKE or not set(_LEVELS.findall(fixed)) <= set(_LEVELS.findall(normalize(name))):
        return None
    if text[:1].islower():
        name = name[0].lower() + name[1:]
    return name, score / 100


def usual_wording(text: str) -> bool:
    """Whether a collective body is written in one of its usual wordings ("Các cơ quan, đơn vị")."""
    return normalize(text).strip(" .;,") in _GENERIC_PLAIN


# The words collective bodies are named with ("Các sở, ban, ngành tỉnh; UBND các xã, phường"),
# as written, by their matching form: a word with letters lost is read back to one of them.
_COLLECTIVE_WRITTEN: dict[str, str] = {}
for _name in (*GENERIC_NAMES, *COMMON_BODIES, *LEVELS, "cán bộ công chức viên chức trưởng tổ trưởng thôn trưởng ấp"):
    for _word in re.findall(r"[\wÀ-ỹ]+", _name):
        _COLLECTIVE_WRITTEN.setdefault(normalize(_word), _word if _word.isupper() else _word.lower())
_COLLECTIVE = Vocabulary(frozenset(_COLLECTIVE_WRITTEN), short_words_too=True)


def _collective_words(text: str) -> str:
    """A collective body's words, each one that is no syllable read back
    to the one it is with a letter or two lost or misread ("Cc" → "các", "nành" → "ngành"), when
    exactly one fits; its capital kept."""

    def word(match: re.Match[str]) -> str:
        original = match.group()
        plain = normalize(original)
        if plain in _COLLECTIVE_WRITTEN or not plain.isalpha() or is_syllable(plain):
            return original  # a real word ("mà", "doanh") is no damage, however close to a name's word
        fixed = _COLLECTIVE.word(plain)
        if fixed == plain:
            return original
        written = _COLLECTIVE_WRITTEN[fixed]
        return written[:1].upper() + written[1:] if original[:1].isupper() else written

    return re.sub(r"[\wÀ-ỹ|]+", word, text)


# A collective word's folded form (OCR confusions folded: "buyện" is "huyện") → the word, when one
_COLLECTIVE_FOLDED: dict[str, str | None] = {}
for _plain in _COLLECTIVE_WRITTEN:
    _COLLECTIVE_FOLDED[skeleton(_plain)] = None if skeleton(_plain) in _COLLECTIVE_FOLDED else _plain
_AFTER_CAC = re.compile(r"(?<![\wÀ-ỹ])(các\s+|cac\s+)([\wÀ-ỹ]+)", re.IGNORECASE)
_EACH = re.compile(r"^(?P<head>(?:Tổ|To|Hội|Hoi|Chi hội|Ban)\b.+?)\s+(?:các|cac|cá|ca|cc|ác)\s+(?P<rest>\S.*)$")
# the places a common body is found in each of ("các thôn", "các bản", "các tổ dân phố")
_PLACES = {"thon", "ban", "lang", "ap", "buon", "xa", "phuong", "to", "khu", "xom", "soc", "plei", "khom"}
_PARTS = re.compile(r"(\s*;\s*|\s+(?:và|va)\s+)")


def collective_read_back(text: str) -> str:
    """A damaged collective body read back part by part ("Các sở, ban, nành ỉnh; UBND các xã,
    phuong, đặc khu", "Các ban, ngành, đoàn thể xã và Trưởng các hôn"): a part nearly a usual
    wording is read as it; in the others, a word that is a collective word with a letter misread
    ("buyện": "huyện") or, after "các", with a letter lost ("các hôn": "các thôn") is read as that
    word, when exactly one fits. A word already a collective word is kept."""
    text = re.sub(r"^(?:Ác|Cc|Cá|ác|cc)(?=\s+(?:cơ quan|ban|sở|phòng|thôn|đoàn thể|tổ|đơn vị)\b)", "Các", text)
    out = []
    for part in _PARTS.split(text):
        if not part.strip() or _PARTS.fullmatch(part):
            out.append(part)
            continue
        usual = generic_name(part) if normalize(part) not in _GENERIC_PLAIN else None
        if usual is not None and part[:1].isupper() == usual[0][:1].isupper():
            out.append(usual[0])
            continue
        words = re.sub(r"[\wÀ-ỹ]+", _misread_word, _collective_words(part))
        out.append(_AFTER_CAC.sub(_after_cac, _paired_words(words)))
    return "".join(out)


def _abbreviations_read_back(text: str) -> str:
    """Abbreviations with a D that OCR read as "CL" ("UBNCL", "HĐNCL") read back, when the word
    read back is a known abbreviation."""

    def word(match: re.Match[str]) -> str:
        fixed = match.group().replace("CL", "D")
        return fixed if normalize(fixed) in ABBREVIATIONS else match.group()

    return re.sub(r"(?<![\wÀ-ỹ])[A-ZĐ]*CL[A-ZĐ]*(?![\wÀ-ỹ])", word, text)


def _misread_word(match: re.Match[str]) -> str:
    original = match.group()
    plain = normalize(original)
    if plain in _COLLECTIVE_WRITTEN or not plain.isalpha() or len(plain) < 3:
        return original
    fixed = _COLLECTIVE_FOLDED.get(skeleton(plain))
    if fixed is None:
        return original
    written = _COLLECTIVE_WRITTEN[fixed]
    return written[:1].upper() + written[1:] if original[:1].isupper() else written


def _after_cac(match: re.Match[str]) -> str:
    plain = normalize(match[2])
    if plain in _COLLECTIVE_WRITTEN or not plain.isalpha():
        return match[0]
    fits = {w for w in _COLLECTIVE_WRITTEN if w.isalpha() and dropped(plain, w)}
    fewest = {w for w in fits if len(w) == min(len(f) for f in fits)}  # "hôn": "thôn" before "phòng"
    if len(fewest) != 1:
        return match[0]
    return match[1] + _COLLECTIVE_WRITTEN[fewest.pop()]


# The pairs of words collective bodies are named with ("đơn vị", "sự nghiệp", "thị trấn"): a word
# with a letter lost beside the other word of exactly one pair is read as its pair's ("đn vị").
_COLLECTIVE_PAIRS: dict[str, set[str]] = {}
for _name in GENERIC_NAMES:
    _words = re.findall(r"[\wÀ-ỹ]+", normalize(_name))
    for _first, _second in zip(_words, _words[1:], strict=False):
        _COLLECTIVE_PAIRS.setdefault(_second, set()).add(_first)


def _paired_words(text: str) -> str:
    def word(match: re.Match[str]) -> str:
        original = match[1]
        plain = normalize(original)
        if plain in _COLLECTIVE_WRITTEN or not plain.isalpha():
            return original
        fits = {w for w in _COLLECTIVE_PAIRS.get(normalize(match[2]), ()) if dropped(plain, w)}
        if len(fits) != 1:
            return original
        written = _COLLECTIVE_WRITTEN[fits.pop()]
        return written[:1].upper() + written[1:] if original[:1].isupper() else written

    return re.sub(r"(?<![\wÀ-ỹ])([\wÀ-ỹ]+)(?=\s+([\wÀ-ỹ]+))", word, text)


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text)


KINDS = (
    "phong",
    "cong chuc",
    "can bo",
    "trung tam",
    "van phong",
    "cong an",
    "uy ban",
    "ubnd",
    "dai",
    "hoi",
    "doan",
    "ban",
    "to",
)


_LEVEL_WRITTEN = {"dac khu": "đặc khu", "phuong": "phường", "huyen": "huyện", "tinh": "tỉnh", "xa": "xã"}


def _level_word(name: str) -> str | None:
    norm = normalize(name)
    return next((w for w in ("dac khu", "phuong", "huyen", "tinh", "xa") if norm.endswith(" " + w)), None)


def looks_damaged(name: str) -> bool:
    """OCR damage rather than another name: letters standing alone ('P ò g Vă   óa')."""
    singles = [t for t in re.findall(r"[\wÀ-ỹ]+", name) if len(t) == 1 and not t.isdigit()]
    return len(singles) >= 2 or "  " in name


def _kind(name: str) -> str | None:
    """What sort of body a name says it is, when its first words are legible."""
    norm = normalize(name)
    return next((k for k in KINDS if norm == k or norm.startswith(k + " ")), None)


def _initials(name: str, *, abbreviated: bool = False) -> str:
    """First letters of the words, an upper-case abbreviation spelled out letter by letter:
    'Trung tâm VH TT&TĐTT' → 'ttvhtttdtt'. With `abbreviated`, '' unless there is such a token."""
    tokens = re.findall(r"[\wÀ-ỹ]+", name.replace("&", " "))
    if abbreviated and not any(len(t) >= 2 and t.isupper() for t in tokens):
        return ""
    letters = []
    for token in tokens:
        if normalize(token) in ("va", "cua"):
            continue
        letters.append(normalize(token) if len(token) >= 2 and token.isupper() else normalize(token)[:1])
    return "".join(letters)


@dataclass(frozen=True)
class _Forms:
    """A known body's name in every form matching compares, worked out once per body."""

    body: Known
    key: str  # name_key: equal keys mean the same body
    compact: frozenset[str]  # its key and its plain text without spaces, for fuzzy matching
    kind: str | None
    level: str | None
    initials: str

    @classmethod
    def of(cls, body: Known) -> _Forms:
        key = name_key(body.name)
        return cls(
            body,
            key,
            frozenset({_compact(key), _compact(normalize(body.name))}),
            _kind(body.name),
            _level_word(body.name),
            _initials(body.name),
        )


def _phrase_form(text: str) -> str:
    """A name as one folded phrase: abbreviations spelt out, OCR confusions folded, letters only —
    a dropped letter that leaves another word ("Lên" for "Liên") still leaves the phrase close."""
    words = re.findall(r"[a-z0-9|]+", normalize(text).replace("&", " va "))
    return re.sub(r"[^a-z]", "", skeleton(" ".join(_SHORT.get(skeleton(word), word) for word in words)))


# Abbreviations by their folded form, so that a damaged one ("UBNCL") is spelt out too.
_SHORT = {skeleton(short): long for short, long in ABBREVIATIONS.items() if short.isalpha()}


def lost_letters(text: str, name: str) -> bool:
    """Whether `text` reads as `name` with letters lost or misread, nothing added ("Con an phuon"
    for "Công an phường"), as OCR damages a name; "… và Thể dục thể thao" adds words to "… và Thể
    thao": a name of its own, not a damaged copy."""
    src, dest = _phrase_form(text), _phrase_form(name)
    if not src or src == dest:
        return src == dest and normalize(text) != normalize(name)
    ops = Levenshtein.editops(src, dest)
    added = sum(1 for op in ops if op.tag in ("delete", "replace"))
    return added <= max(1, len(dest) // 15) and len(ops) <= len(dest) // 3


# Every common body at every level (and at none), as phrases, with its level: built once.
_COMMON = [
    (name, written, _phrase_form(written), _kind(name), _phrase_form(level) if level else "")
    for name in COMMON_BODIES
    for written, level in ((name, ""), *((f"{name} {level}", level) for level in LEVELS))
]
LEVEL_ALIKE = 60  # % alike the last words of a name must be with a level to be read as it


def _ends_with_level(text: str, level: str) -> bool:
    """Whether the last words of `text` are the level `level` (phrase form), maybe damaged ("ã",
    "huong", "kbu"): "… các thôn" is no level, and its body no body of a commune or ward."""
    words = normalize(text).split()
    size = 2 if len(level) > 5 else 1  # "thi tran", "dac khu", "thanh pho", "thi xa"
    tail = _phrase_form(" ".join(words[-size:]))
    return fuzz.ratio(tail, level) >= LEVEL_ALIKE


def common_body(text: str) -> tuple[str, float] | None:
    """The common body (COMMON_BODIES, at the level written after it) a damaged name stands for,
    with how alike they are: the whole name compared as one phrase. None when none is alike
    enough, or another body is nearly as alike (no guess between two)."""
    form = _phrase_form(text)
    if len(form) < 5:
        return None
    kind = _kind(text)
    words = len(normalize(text).split())
    best: dict[str, tuple[float, str]] = {}
    for name, written, phrase, candidate_kind, level in _COMMON:
        if kind is not None and candidate_kind not in (None, kind):
            continue
        if (level and not _ends_with_level(text, level)) or words > len(written.split()):
            continue  # "Tổ công nghệ số cộng đồng các thôn": more than a common body, at no level
        score = fuzz.ratio(form, phrase) / 100
        if score == 1 and _compact(normalize(text)) != _compact(normalize(written)):
            score = 0.99  # alike only once OCR confusions are folded: nearly, not surely, the same
        if score > best.get(name, (0.0, ""))[0]:
            best[name] = (score, written)
    ranked = sorted(best.values(), reverse=True)
    if not ranked or ranked[0][0] < COMMON_ACCEPT:
        return None
    if len(ranked) > 1 and ranked[1][0] > ranked[0][0] - COMMON_MARGIN:
        return None
    return ranked[0][1], ranked[0][0]


class BodyNames:
    """The bodies a plan may name: the standard bodies of a commune and of a district, those the
    caller's directory knows (with codes), and those the plan itself lists in its duties."""

    def __init__(self, known: list[Known], *, common: bool = True) -> None:
        self.common = common  # also read damaged names back to COMMON_BODIES
        self.forms: list[_Forms] = []
        by_key: dict[str, _Forms] = {}
        for item in known:
            forms = _Forms.of(item)
            if forms.key and forms.key not in by_key:
                by_key[forms.key] = forms
                self.forms.append(forms)
        self.by_key = by_key

    @property
    def known(self) -> list[Known]:
        return [forms.body for forms in self.forms]

    @classmethod
    def standard(cls, extra: list[Known] | None = None, *, common: bool = True) -> BodyNames:
        standard = [Known(name) for _, name in (*STANDARD_COMMUNE_BODIES, *STANDARD_DISTRICT_BODIES)]
        return cls([*(extra or []), *standard], common=common)

    def with_names(self, names: list[str]) -> BodyNames:
        return BodyNames([*self.known, *(Known(n) for n in names)], common=self.common)

    def resolve(self, text: str) -> Resolved:
        text = " ".join(text.split()).strip(" ;,.:-")
        found = self._resolve(text)
        if found.name is not None or not name_key(text):
            return found
        usual = generic_name(text) if normalize(text) not in _GENERIC_PLAIN else None
        if usual is not None:  # a collective body, read back to its usual wording
            return Resolved(usual[0], None, None, usual[1])
        spread = self._common_in_each(text)
        if spread is not None:
            return spread
        fixed = restored(_abbreviations_read_back(text))
        collective = _collective_words(fixed)
        if is_generic(collective_read_back(collective)):
            collective = collective_read_back(collective)
        if is_generic(collective):  # "Cc cơ quan, don vị, cán bộ", "Các sở, ban, nành ỉnh": its words read back
            fixed = collective
        if fixed != text:  # OCR-misread words read back: "C6ng ari xã" → "Công an xã"
            again = self._resolve(fixed)
            if again.name is not None and again.name != fixed:
                return Resolved(text, again.name, again.code, min(again.confidence, 0.95))
            return Resolved(fixed, None, None, found.confidence)  # a name of its own, as read back
        return found

    def _common_in_each(self, text: str) -> Resolved | None:
        """A common body in each of a collective ("Tổ công nghệ số cộng đồng các thôn", damaged:
        "Tổ công nghi s cộng đồng các thôn", "… cộn đồng cá bản"): no one body, so its text read
        back, the common body's name and the collective words, when both read."""
        if not self.common:
            return None
        match = _EACH.match(text)
        if match is None:
            return None
        common = common_body(match["head"])
        if common is None:
            return None
        tail = _AFTER_CAC.sub(_after_cac, _collective_words(f"các {match['rest']}"))
        words = re.findall(r"[a-z]+", normalize(tail))
        if len(words) < 2 or words[1] not in _PLACES or not all(word in _COLLECTIVE_WRITTEN for word in words):
            return None
        return Resolved(f"{common[0]} {tail}", None, None, common[1])

    def _resolve(self, text: str) -> Resolved:
        key = name_key(text)
        if not key or is_generic(text):
            return Resolved(text, None, None, 0.0)
        same = self.by_key.get(key)
        if same is not None:
            name = same.body.name
            if same.body.code is None and _level_word(text) not in (None, same.level):
                name = text  # "Công an tỉnh" is no commune's "Công an xã": a standard name's level differs
            return Resolved(text, name, same.body.code, 1.0)
        best: tuple[float, Known | None] = (0.0, None)
        forms = {_compact(key), _compact(normalize(text))}
        kind = _kind(text)
        level = _level_word(text)
        for candidate in self.forms:
            if kind is not None and candidate.kind not in (None, kind):
                continue  # "Công chức Văn hóa - Xã hội" is no "Phòng Văn hóa - Xã hội"
            similarity = max(fuzz.ratio(a, b) for a in forms for b in candidate.compact) / 100
            if level is not None and candidate.level != level:
                similarity -= 0.02  # "… UBND huyện" is rather the district's body than a levelless one
            if similarity > best[0]:
                best = (similarity, candidate.body)
        score, item = best
        common = common_body(text) if self.common else None
        if common is not None and common[1] > score:  # "Hội Lên hiệp Phụ nữ xa", "Đoàn Thanh niên ã"
            return Resolved(text, common[0], None, common[1])
        if item is not None and score >= ACCEPT:
            if item.code is None and level is not None and _level_word(item.name) != level:
                # as for an exact match: a standard body at the level the text names ("… đặc khu", not "… xã")
                own = _level_word(item.name)
                bare = " ".join(item.name.split()[: -len(own.split())]) if own else item.name
                return Resolved(text, f"{bare} {_LEVEL_WRITTEN[level]}", None, score)
            return Resolved(text, item.name, item.code, score)
        short = _initials(text, abbreviated=True)
        if short:  # "Trung tâm VH TT&TĐTT": the initials of "Trung tâm Văn hóa thông tin và Thể dục thể thao"
            scored = [(fuzz.ratio(short, k.initials) / 100, k.body) for k in self.forms]
            initials_score, initials_item = max(scored, key=lambda pair: pair[0], default=(0.0, None))
            if initials_item is not None and initials_score >= 0.85:
                return Resolved(text, initials_item.name, initials_item.code, round(initials_score * 0.95, 2))
        return Resolved(text, None, None, score)

    def split(self, cell: str) -> list[Resolved]:
        """A lead or coordinating cell as bodies: split on ';' and line breaks, and on ' và ' when
        the part before it is itself a body ('Phòng Kinh tế và các cơ quan …'), never on commas
        ('Các cơ quan, đơn vị' is one entry)."""
        found: list[Resolved] = []
        for part in re.split(r"\s*[;\n]\s*", cell):
            part = STAMPED.sub("", without_stamp_words(part)).strip(" ;,.:-–")
            if not part:
                continue
            whole = self.resolve(part)
            if whole.name is None:
                pieces = re.split(r"\s+và\s+|\s*&\s*", part, maxsplit=1)
                if len(pieces) == 2:
                    first = self.resolve(pieces[0])
                    if first.name is not None:
                        found += [first, self.resolve(pieces[1])]
                        continue
            found.append(whole)
        return found


# Content areas (CONTENT_AREAS keys) by the words that name them, most specific first.
AREA_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("par_index", ("par index", "chi so cai cach hanh chinh")),
    ("sipas", ("sipas", "chi so hai long", "su hai long")),
    ("papi", ("papi",)),
    ("pci", ("pci", "nang luc canh tranh")),
    ("ddci", ("ddci",)),
    ("dti", ("dti", "chi so chuyen doi so")),
    ("pii", ("pii", "doi moi sang tao")),
    ("institutions", ("the che", "van ban quy pham", "vbqppl", "pho bien giao duc phap luat")),
    ("procedures", ("thu tuc hanh chinh", "tthc", "mot cua", "hanh chinh cong")),
    ("apparatus", ("to chuc bo may", "bo may")),
    ("civil_service", ("che do cong vu", "cong vu", "dao duc cong vu", "ky cuong")),
    ("public_finance", ("tai chinh cong", "ngan sach", "moi truong dau tu", "doanh nghiep", "dau tu")),
    (
        "digital_government",
        ("chinh quyen dien tu", "chinh quyen so", "chuyen doi so", "dich vu cong truc tuyen", "vneid", "cong dan so"),
    ),
    ("general", ("chu truong", "chinh sach", "cai cach hanh chinh")),
]

CHANNEL_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("radio", ("phat thanh", "truyen thanh", "dai ")),
    ("press", ("bao chi", "bao gia lai", "bao quang tri", "co quan bao", "thong tan")),
    ("portal", ("cong thong tin", "trang thong tin", "cong/trang")),
    ("social", ("mang xa hoi", "zalo", "facebook", "youtube", "tiktok", "fanpage")),
    ("conference", ("hoi nghi", "tap huan", "hoi thao", "toa dam", "boi duong")),
    ("village_meeting", ("hop thon", "cuoc hop thon", "khu dan cu", "to dan pho", "thon/lang", "thon, lang")),
    ("visual", ("pano", "pa no", "pa-no", "ap phich", "bang ron", "khau hieu", "to roi", "truc quan")),
    ("public_posting", ("niem yet",)),
    ("contest", ("cuoc thi", "hoi thi")),
    ("dialogue", ("doi thoai",)),
    ("video", ("video", "clip", "phong su")),
    ("infographic", ("infographic",)),
]

PRODUCT_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("document", ("ke hoach", "bao cao", "van ban", "tai lieu", "the le")),
    ("article", ("bai viet", "tin, bai", "tin bai", "bai ")),
    ("news", ("tin ngan", "dua tin", "tin,", "tin ")),
    ("broadcast", ("phat thanh", "truyen thanh")),
    ("reportage", ("phong su",)),
    ("video", ("video", "clip")),
    ("infographic", ("infographic",)),
    ("column", ("chuyen muc", "chuyen trang")),
    ("poster", ("pano", "pa no", "ap phich", "bang ron", "khau hieu")),
    ("leaflet", ("to roi", "an pham")),
    ("conference", ("hoi nghi", "hoi thao", "toa dam", "cuoc hop")),
    ("training", ("tap huan", "lop ")),
    ("contest", ("cuoc thi", "hoi thi")),
    ("dialogue", ("doi thoai",)),
    ("social_post", ("mang xa hoi", "zalo", "facebook")),
]


def _mentioned(text: str, table: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    norm = f" {normalize(text)} "
    return [key for key, words in table if any(word in norm for word in words)]


def area_of(text: str) -> str | None:
    """The first, most specific content area the text names (a task has one)."""
    found = _mentioned(text, AREA_WORDS)
    specific = [key for key in found if key != "general"]
    return (specific or found)[0] if found else None


def areas_in(text: str) -> list[str]:
    return _mentioned(text, AREA_WORDS)


def channels_in(text: str) -> list[str]:
    return _mentioned(text, CHANNEL_WORDS)


def product_kinds(text: str) -> list[str]:
    return _mentioned(text, PRODUCT_WORDS)
