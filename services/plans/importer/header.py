"""The head of a plan: number and symbol, issuing body, place and date, title, period, and the
plan it implements ("Thực hiện Kế hoạch số … ngày … của …"). Each reader returns what it found
and leaves a warning for what it could not read; none of them guesses a value."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from services.plans.importer.lines import STAMP_WORDS, Line, Notes, fold
from services.plans.importer.timewords import digits_read_back
from services.plans.importer.vocabulary import dropped, misread, opens_basis, repaired_time, skeleton
from shared.text import normalize

ROMAN_HEADING = re.compile(r"^(?P<roman>[IVXLl1|Y]{1,5})\s*[.\-–)]\s*(?P<title>\S.*)$")  # "Y." for V.


def is_section_heading(line: Line) -> bool:
    """'II. NỘI DUNG, HÌNH THỨC' (also 'Il.' read by OCR): a roman numeral and upper case words."""
    if line.cells is not None:
        return False
    match = ROMAN_HEADING.match(line.text)
    if not match:
        return False
    letters = [ch for ch in match["title"] if ch.isalpha()]
    return bool(letters) and sum(ch.isupper() for ch in letters) / len(letters) > 0.8


def first_section(lines: list[Line]) -> int:
    return next((i for i, line in enumerate(lines) if is_section_heading(line)), len(lines))


_NUMBER = re.compile(
    r"^(?:s(?:o|6|0)?\s*[:;.]?|(?:o|6|0)\s*[:;.])"  # "Số:", "S6:", and "ố:" (its S lost)
    r"\s*(?P<n>[0-9]*)\s*/\s*(?P<sym>[a-z0-9đ]+(?:\s*-\s*[a-z0-9đ]+)*)"
)
# The parts of a plan's symbol ("KH-UBND", "KH-BCĐ"): a part OCR damaged is read back to one of
# these when exactly one is a letter away, with a warning.
SYMBOL_PARTS = ("KH", "UBND", "HĐND", "BCĐ", "ĐU", "ĐUỶ", "BTV", "TU", "HU", "QĐ", "VP", "SNV", "BCH", "MTTQ")
# A date whose words OCR damaged beyond reading back: the day, month and year are digits between
# short words ("ngy 05 thng 03 rim 2025").
_DATE_SHAPE = re.compile(
    r"(?P<ngay>\b[a-z|]{1,5}\s*)?\b(?P<d>\d{1,2})\s*[a-z|]{1,6}\s*(?P<m>\d{1,2})\s*[a-z|]{1,5}\s*(?P<y>(?:19|20)\d{2})\b"
)
_DATE_WORDS = re.compile(r"ngay\s*(?P<d>\d{0,2})\s*thang\s*(?P<m>\d{0,2})\s*nam\s*(?P<y>(?:19|20)\d{2})")
_DATE_DIGITS = re.compile(r"(?P<d>\d{1,2})\s*[/.-]\s*(?P<m>\d{1,2})\s*[/.-]\s*(?P<y>(?:19|20)\d{2})")


def make_date(day: str, month: str, year: str) -> dt.date | None:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def read_number(head: list[Line], notes: Notes) -> str:
    for line in head:
        if len(line.text.strip()) >= 60:  # no number line (and no need to fold a long paragraph)
            continue
        folded = fold(line.text).strip()
        match = _NUMBER.match(folded)
        if match and ("/" in folded):
            symbol = re.sub(r"\s+", "", line.text.strip()[match.start("sym") : match.end("sym")]).upper()
            if not match["n"]:
                notes.add(line, f"số kế hoạch để trống (bản dự thảo?): {line.text.strip()!r}")
                return ""
            return f"{match['n']}/{read_symbol(symbol, line, notes)}"  # as written: "06/KH-UBND" keeps its zero
    notes.add(None, "không thấy số, ký hiệu kế hoạch (dòng 'Số: …/KH-UBND')")
    return ""


def read_symbol(symbol: str, line: Line, notes: Notes, *, what: str = "số kế hoạch") -> str:
    """A plan's symbol with each part OCR damaged ("KB-UBRID", "KH-UBD") read back to the known
    part it stands for, with a warning; a part that fits none or several is kept as written, and
    a symbol opening with no known part ("H-UBND") is said to be unsure."""
    parts = symbol.split("-")
    fixed = [_symbol_part(part) for part in parts]
    if fixed != parts:
        notes.add(line, f"{what}: đọc ký hiệu {symbol!r} là {'-'.join(fixed)!r} (chữ bị nhận dạng sai)")
    if fixed and (fixed[0] not in SYMBOL_PARTS or any(_cut_short(part) for part in fixed)):
        notes.add(line, f"{what}: ký hiệu {'-'.join(fixed)!r} có thể bị nhận dạng sai")
    return "-".join(fixed)


def _cut_short(part: str) -> bool:
    """A symbol's part that is a known part with letters lost ("UB" of "UBND"): unsure, not another part."""
    if part in SYMBOL_PARTS:
        return False
    for known in SYMBOL_PARTS:
        letters = iter(known)
        if len(part) < len(known) and all(ch in letters for ch in part):
            return True
    return False


def _symbol_part(part: str) -> str:
    if part in SYMBOL_PARTS or not part:
        return part
    plain = normalize(part).replace("ri", "n").replace("cl", "d")
    # a letter dropped first ("BND", "UBD" → UBND), then one letter misread
    fits = {known for known in SYMBOL_PARTS if dropped(plain, normalize(known))}
    fits = fits or {known for known in SYMBOL_PARTS if Levenshtein.distance(plain, normalize(known)) <= 1}
    return fits.pop() if len(fits) == 1 and len(part) >= 2 else part


def _is_day_word(word: str) -> bool:
    """'ngày' as OCR may leave it: 'ngy', 'gày', 'này', 'ngav'."""
    return Levenshtein.distance(skeleton(word.strip()), skeleton("ngay")) <= 1


def _place_unsure(place: str, *, damaged: bool) -> bool:
    """A place name that may be misread: a word that is no syllable, a stroke or a digit in it
    ("S| a hì"), the motto run into it ("Độ lậ - Tự do - …"), a comma left of a damaged "ngày"."""
    return (
        misread(place)
        or bool(re.search(r"[|!0-9]", place))
        or " - " in place
        or len(place.split()) > 6
        or (damaged and "," in place)
    )


def read_place_and_date(head: list[Line], notes: Notes) -> tuple[str, dt.date | None]:
    for line in head:
        if len(line.text) > 90 or "ke hoach so" in line.norm or line.norm.startswith(("can cu", "thuc hien")):
            continue  # a date in the basis is the date of another document
        folded = fold(line.text)
        match = _DATE_WORDS.search(folded) or _DATE_DIGITS.search(folded)
        start = match.start() if match else 0
        damaged = not match
        if not match:  # the words damaged: "ngy 05 thng 03 rim 2025", "này 10 tháng 3 ăm 2026"
            match = _DATE_SHAPE.search(folded)
            if not match or (match["ngay"] and not _is_day_word(match["ngay"])):
                continue
            start = match.start("ngay") if match["ngay"] else match.start("d")
        place = line.text[:start].strip(" ,")
        if fold(place).endswith(" ngay"):  # "Đông Hà, ngày 15/4/2026"
            place = place[: -len("ngay")].strip(" ,")
        left = re.search(r",\s*(\S{1,4})$", place)  # "Don Ha, ày 15/4/2026": what OCR left of "ngày"
        if left and Levenshtein.distance(normalize(left[1]), "ngay") <= 2:
            place = place[: left.start()].strip()
            notes.add(line, f"địa danh có thể bị nhận dạng sai: {place!r} (chữ 'ngày' bị nhận dạng sai)")
        if _place_unsure(place, damaged=damaged):
            # "Canh irih", "Don Ha, ày": kept as written, said to be unsure
            notes.add(line, f"địa danh có thể bị nhận dạng sai: {place!r}")
        if not match["d"] or not match["m"]:
            notes.add(line, f"ngày ban hành để trống: {line.text.strip()!r}")
            return place, None
        day = make_date(match["d"], match["m"], match["y"])
        if day is None:
            notes.add(line, f"ngày ban hành không hợp lệ: {line.text.strip()!r}")
        return place, day
    notes.add(None, "không thấy địa danh, ngày tháng ban hành")
    return "", None


ADMIN_WORDS = ("xã", "phường", "thị trấn", "thị xã", "huyện", "quận", "thành phố", "tỉnh", "đặc khu")
_ADMIN = "|".join(sorted((normalize(w) for w in ADMIN_WORDS), key=len, reverse=True))
# "… xã Canh Vinh năm 2026", "… huyện Vĩnh Linh năm 2025": the level and the capitalised name.
_UNIT_IN_TEXT = re.compile(rf"\b(?P<level>{_ADMIN})\s+(?P<name>[A-ZĐÀ-Ỹ][\wÀ-ỹ]*(?:\s+[A-ZĐÀ-Ỹ0-9][\wÀ-ỹ]*)*)")


_WORD = re.compile(r"\S+")


def _unit_in(text: str) -> str | None:
    """'xã Canh Vinh' out of a sentence, keeping the original spelling."""
    folded = fold(text)
    for match in re.finditer(rf"\b(?:{_ADMIN})\s+", folded):
        words = []
        # the words after it one by one, not the whole rest of the text split at every level word
        for word in (w.group() for w in _WORD.finditer(text, match.end())):
            if not (word[:1].isupper() or word.isdigit()) or normalize(word) in ("nam", "ke"):
                break  # the name ends at the first word in lower case ("… Canh Vinh đến năm 2026")
            words.append(word.strip(",.;:"))
        if words:
            level = text[match.start() : match.end()].strip().lower()
            return f"{level} {' '.join(words)}"
    return None


def _title_case(words: str) -> str:
    """'XÃ IA PẾT' → 'xã Ia Pết': the level word in lower case, the name capitalised."""
    text = " ".join(words.split())
    folded = fold(text)
    for word in sorted(ADMIN_WORDS, key=len, reverse=True):
        if folded.startswith(normalize(word) + " "):
            return f"{word} {text[len(word) + 1 :].title()}"
    return text.title()


_MOTTO_WORDS = ("cong hoa", "chu nghia", "viet nam", "doc lap", "hanh phuc")


def _stamp_words(text: str) -> bool:
    """A line (or what follows 'ỦY BAN NHÂN DÂN') that is only a stamp's words: 'CHỦ TỊCH', 'ĐÃ KÝ'."""
    norm = normalize(text).strip(" .:")
    return any(fuzz.ratio(norm, words) >= 80 for words in STAMP_WORDS)


def _checked_issuer(issuer: str, line: Line, notes: Notes) -> str:
    """The issuer as read, with a warning when it may be misread: no level word opens its name
    ('xã', 'phường', 'huyện' …), or the national motto's words run into it."""
    unit = normalize(issuer).removeprefix("uy ban nhan dan ").strip()
    levels = sorted((normalize(word) for word in ADMIN_WORDS), key=len, reverse=True)
    opens_with_level = any(unit == level or unit.startswith(level + " ") for level in levels)
    if not opens_with_level or any(words in unit for words in _MOTTO_WORDS) or misread(issuer):
        notes.add(line, f"cơ quan ban hành có thể bị nhận dạng sai: {issuer!r}")
    return issuer


def read_issuer(head: list[Line], title: str, basis: str, notes: Notes) -> str:
    """The issuing People's Committee from the header lines ('ỦY BAN NHÂN DÂN' / 'XÃ IA PẾT'),
    else from the title or the basis paragraph, with a warning."""
    for index, line in enumerate(head):
        prefix = re.match(r"\s*(?:uy ban nhan dan|ubnd)\b[\s.:]*", fold(line.text[:40]))  # its start is enough
        if prefix and line.text.isupper():
            rest = line.text[prefix.end() :].strip()  # fold() keeps positions: cut the original
            if re.search(r"\w", rest) and not _stamp_words(rest):
                return _checked_issuer(f"Ủy ban nhân dân {_title_case(rest)}", line, notes)
            for following in head[index + 1 : index + 4]:  # the right column may come in between
                if _stamp_words(following.text):
                    continue  # "CHỦ TỊCH", "ĐÃ KÝ" of a stamp between the lines of the header
                if following.text.isupper() and not following.norm.startswith(("cong hoa", "doc lap", "so")):
                    return _checked_issuer(f"Ủy ban nhân dân {_title_case(following.text)}", following, notes)
    for source, where in ((title, "tiêu đề"), (basis, "phần căn cứ")):
        unit = _unit_in(source)
        if unit:
            notes.add(None, f"không có tên cơ quan ban hành ở đầu văn bản; suy từ {where}: {unit}")
            return f"Ủy ban nhân dân {unit}"
    notes.add(None, "không xác định được cơ quan ban hành")
    return ""


def _says_ke_hoach(line: Line) -> bool:
    """A line of its own in capitals that is nearly 'KẾ HOẠCH' (a letter or two lost or misread)."""
    text = line.text.strip(" .")
    return line.cells is None and text.isupper() and 5 <= len(text) <= 10 and fuzz.ratio(line.norm, "ke hoach") >= 75


def read_title(lines: list[Line], notes: Notes) -> tuple[str, int]:
    """The subject under 'KẾ HOẠCH' (one or more lines), or, in a text without that word, the
    first line that reads like a subject; and the index of the line after it."""
    stop = first_section(lines)
    starts = next((i for i, line in enumerate(lines[:stop]) if line.norm.rstrip(" .") == "ke hoach"), None)
    if starts is None:  # the word damaged: "KẾ OẠCH", "KE HOAC", "C HOẠCH"
        starts = next((i for i, line in enumerate(lines[:stop]) if _says_ke_hoach(line)), None)
    if starts is None:  # "KẾ HOẠCH Tuyên truyền …" on one line
        for i, line in enumerate(lines[:stop]):
            if line.cells is None and line.text.startswith(("KẾ HOẠCH ", "KE HOACH ")) and not line.text.isupper():
                return line.text.split(None, 2)[2].strip(), i + 1
    if starts is None:
        for i, line in enumerate(lines[:stop]):
            if opens_basis(line.text):
                break
            if line.cells is None and len(line.text) > 20 and not _looks_like_header(line):
                notes.add(line, "không thấy chữ 'KẾ HOẠCH'; lấy dòng này làm tiêu đề")
                return line.text.strip(), i + 1
        notes.add(None, "không thấy tiêu đề kế hoạch")
        return "", 0
    parts: list[str] = []
    index = starts + 1
    while index < stop and len(parts) < 3:
        line = lines[index]
        if line.cells is not None or line.norm.startswith("(") or opens_basis(line.text) or not line.text:
            break
        parts.append(line.text.strip())
        index += 1
    if not parts:
        notes.add(lines[starts], "tiêu đề kế hoạch để trống")
    title = " ".join(parts)
    words = title.split()
    if words and sum(misread(word) for word in words) > len(words) / 4:  # "Thôg ti, tuy truyề ai cách àh chíb"
        notes.add(lines[starts], f"tiêu đề có thể bị nhận dạng sai: {title[:80]!r}")
    return title, index


def _looks_like_header(line: Line) -> bool:
    norm = line.norm
    return (
        norm.startswith(("cong hoa", "doc lap", "so:", "so "))
        or bool(_DATE_WORDS.search(norm))
        or (line.text.isupper() and norm.startswith(("uy ban", "ubnd")))
    )


_PERIODS = [
    (re.compile(r"6 thang cuoi nam\s*(?P<y>\d{4})"), "{y}-H2"),
    (re.compile(r"6 thang dau nam\s*(?P<y>\d{4})"), "{y}-H1"),
    (re.compile(r"9 thang (?:dau )?nam\s*(?P<y>\d{4})"), "{y}-9M"),
    (re.compile(r"quy\s*(?P<q>i{1,3}|iv|[1-4])\s*(?:nam\s*)?(?P<y>\d{4})"), "{y}-Q{q}"),
    (re.compile(r"nam\s*(?P<y>(?:19|20)\d{2})"), "{y}"),
]
_QUARTERS = {"i": "1", "ii": "2", "iii": "3", "iv": "4"}
# Before a year, what is left of "6 tháng", "9 tháng", "quý …" or "đầu/cuối năm" that did not read.
_PART_OF_YEAR = re.compile(r"\b(?:[69]|qu\w?|q\w?y|th\w{0,4}g|dau|cuoi|d\w?u|cu\w?i)\b")


def read_period(title: str, notes: Notes) -> str:
    """'… năm 2026' → 2026; '6 tháng cuối năm 2025' → 2025-H2; '6 tháng đầu năm' → H1."""
    norm = normalize(title).replace("il", "ii")
    fixed = repaired_time(title).replace("il", "ii")  # "nim 2025", "6 thng cuoi ăm", "qy II"
    texts = (norm, fixed, digits_read_back(fixed))  # "202S", "2O26"
    for pattern, code in _PERIODS:  # the most precise period first, in either text
        for text in texts:
            match = pattern.search(text)
            if match:
                groups = match.groupdict()
                if "q" in groups:
                    groups["q"] = _QUARTERS.get(groups["q"], groups["q"])
                if code == "{y}" and _PART_OF_YEAR.search(text[: match.start()][-24:]):
                    # "6 thág đu năm 2025" read only as its year: a part of the year was named, not read
                    notes.add(None, f"kỳ của kế hoạch đọc là năm {groups['y']} nhưng tiêu đề có thể nêu kỳ ngắn hơn")
                return code.format(**groups)
    notes.add(None, "không xác định được kỳ của kế hoạch (năm, 6 tháng …) từ tiêu đề")
    return ""


@dataclass
class ParentPlan:
    number: str = ""
    date: dt.date | None = None
    issuer: str = ""


_PARENT_NUMBER = re.compile(r"ke hoach s(?:o)?\s*:?\s*(?P<n>\d+)\s*/\s*(?P<sym>[a-z0-9đ]+(?:\s*-\s*[a-z0-9đ]+)*)")


# "Kế hoạch s6 18/KH-UBND", "Ke hoac so 18/KH-UBND", "ế hoạch số …": a plan's number (its symbol opens with KH)
# after words nearly "kế hoạch số".
_PARENT_DAMAGED = re.compile(
    r"(?:\bk\S{0,2}\s*)?\bh\S{1,5}\s+s\S{0,2}\s*:?\s*(?P<n>\d+)\s*/\s*(?P<sym>k[a-z0-9đ]?(?:\s*-\s*[a-z0-9đ]+)+)"
)


_PLAN_SYMBOL = re.compile(r"(?<![\d/])(?P<n>\d{1,4})\s*/\s*(?P<sym>kh(?:\s*-\s*[a-z0-9đ]+)+)")


def read_parent(basis: Line | None, notes: Notes) -> ParentPlan | None:
    """'Thực hiện Kế hoạch số 135/KH-UBND ngày 31 tháng 12 năm 2025 của UBND xã về …'."""
    if basis is None:
        return None
    folded = fold(basis.text)
    # the first plan the basis cites, its words damaged or not (another may follow: "…; Kế hoạch số 15/…")
    found = [m for m in (_PARENT_NUMBER.search(folded), _PARENT_DAMAGED.search(folded)) if m is not None]
    if not found:  # "Kế hoạch ố 135/KH-UBND", "ế h6ạch 6 204/KH-UBND": a plan's number by its KH symbol alone
        found = [m for m in (_PLAN_SYMBOL.search(folded),) if m is not None]
    match = min(found, key=lambda m: m.start()) if found else None
    if match is None:
        if "ke hoach" in folded:
            notes.add(basis, "phần căn cứ nhắc đến kế hoạch cấp trên nhưng không ghi số, ký hiệu")
        return None
    symbol = re.sub(r"\s+", "", basis.text[match.start("sym") : match.end("sym")]).upper()
    parent = ParentPlan(number=f"{match['n']}/{read_symbol(symbol, basis, notes, what='số kế hoạch cấp trên')}")
    rest = folded[match.end() :]
    when = re.match(r"\s*,?\s*(?:[a-z|]{1,5}\s*)?", rest)  # "ngày", or what OCR left of it
    tail = rest[when.end() if when else 0 :]
    day = _DATE_DIGITS.match(tail) or re.match(r"(?P<d>\d{1,2})\s*thang\s*(?P<m>\d{1,2})\s*nam\s*(?P<y>\d{4})", tail)
    if day:
        parent.date = make_date(day["d"], day["m"], day["y"])
    else:
        notes.add(basis, f"không đọc được ngày của kế hoạch {parent.number}")
    of = re.search(r"\bcua\s+(?P<who>.+?)(?=\s+(?:ve|v/v|ban hanh|trien khai|thuc hien)\b|[,.;(]|$)", rest)
    if of:
        offset = match.end()
        parent.issuer = basis.text[offset + of.start("who") : offset + of.end("who")].strip()
    return parent


def split_basis(title: str, line: Line | None) -> tuple[str, Line | None]:
    """A title run together with its basis ('… quý II năm 2026 Thực hiện Kế hoạch số …', a scan
    that lost the line break): the title, and the basis as a line of its own."""
    match = re.search(r"\s(?=(?:thuc hien|can cu) (?:ke hoach|quyet dinh|cong van|nghi quyet))", fold(title))
    if match is None or line is None:
        return title, None
    return title[: match.start()].strip(), Line(line.no, title[match.end() :].strip())


def find_basis(lines: list[Line], after: int) -> Line | None:
    """The basis paragraph ('Thực hiện …', 'Căn cứ …') between the title and the first section."""
    basis = [line for line in lines[after : first_section(lines)] if opens_basis(line.text)]
    # a plan is cited by its words or by its number's symbol ("Kế hoạcb so 318/KH-UBND"): the first such
    cites_plan = re.compile(r"ke hoach|\d+\s*/\s*kh\b")
    return next((line for line in basis if cites_plan.search(line.norm)), basis[0] if basis else None)
