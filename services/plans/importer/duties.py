"""The section "Tổ chức thực hiện": one entry per responsible body with its duty lines, and the
reporting duties found in them — how often (quarter, half, nine months, year), to whom, by what
date. A line that says "báo cáo định kỳ" without saying how often is reported as a warning, not
turned into a guess."""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import Levenshtein

from services.plans.importer.header import is_section_heading
from services.plans.importer.lines import Line, Notes, fold, is_signature_title, without_stamp_words
from services.plans.importer.names import STAMPED, BodyNames, Resolved, lost_letters
from services.plans.importer.vocabulary import misread, repaired_phrases, says, skeleton, unfamiliar
from shared.timelines import TimelineError, parse_timeline

# "1. Phòng Văn hóa - Xã hội", also "l.", "|.", "I." (a 1 OCR read as a letter) or "S." (a 5)
_BODY = re.compile(r"^(?P<n>\d{1,2}|[l|IS])[.)]\s*(?P<body>[^:]{3,120}?)\s*(?::\s*(?P<rest>.*))?$")
_DIGIT_LOOKS = str.maketrans({"l": "1", "|": "1", "I": "1", "S": "5"})
_END = ("tren day la", "noi nhan", "phu luc")
DUTY_HEADINGS = ("to chuc thuc hien", "trach nhiem thuc hien", "phan cong nhiem vu", "phan cong thuc hien")


@dataclass
class Reporting:
    every: str
    to: str = ""
    by: dt.date | None = None
    text: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"every": self.every, "to": self.to, "by": self.by.isoformat() if self.by else None}


@dataclass
class DutyDraft:
    body: str
    line: int
    unit: Resolved | None = None
    lines: list[str] = field(default_factory=list)
    reporting: list[Reporting] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "body": self.body,
            "unit": self.unit.as_json() if self.unit else None,
            "lines": self.lines,
            "reporting": [r.as_json() for r in self.reporting],
            "line": self.line,
        }


def duties_section(lines: list[Line]) -> range:
    """Indexes of the lines of 'Tổ chức thực hiện' (empty when there is none)."""
    start = next(
        (i for i, line in enumerate(lines) if is_section_heading(line) and says(line.text, DUTY_HEADINGS)),
        None,
    )
    if start is None:
        return range(0)
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if is_section_heading(line) or line.cells is not None or _ends_duties(line):
            break
        end += 1
    return range(start + 1, end)


def _ends_duties(line: Line) -> bool:
    """'Trên đây là …', 'Nơi nhận:', 'PHỤ LỤC', also damaged ('Noi nbận:')."""
    return line.norm.startswith(_END) or (len(line.norm) < 40 and says(line.text[:14], _END) is not None)


def read_duties(lines: list[Line], section: range, bodies: BodyNames, notes: Notes) -> list[DutyDraft]:
    duties: list[DutyDraft] = []
    number = 0  # the number of the last duty read: one skipped is a duty lost to damage
    for index in section:
        line = lines[index]
        if is_signature_title(line):
            continue
        match = _BODY.match(line.text)
        if match and len(match["body"].split()) <= 16 and not match["body"].rstrip().endswith((";", ".")):
            written = int(match["n"].translate(_DIGIT_LOOKS))
            if written > number + 1:
                notes.add(
                    line, f"mục {written} của phần tổ chức thực hiện đứng sau mục {number}: có thể thiếu một đơn vị"
                )
            number = written
            body = STAMPED.sub("", without_stamp_words(match["body"].strip().rstrip(".")))
            role = re.search(r"\s*\(([^)]*)\)$", body)  # "Phòng Văn hóa - Xã hội (cơ quan thường trực)"
            duties.append(DutyDraft(body=body[: role.start()] if role else body, line=line.no))
            if role:
                duties[-1].lines.append(role.group(1))
            if match["rest"]:
                duties[-1].lines.append(match["rest"].strip())
            continue
        if not duties:
            continue
        duties[-1].lines.append(line.text.lstrip("-+• ").strip())
    for duty in duties:
        duty.lines = _rejoined(duty.lines)
        resolved = bodies.resolve(duty.body)
        duty.unit = resolved
        if resolved.name is not None and resolved.name != duty.body and _damaged_copy(duty.body, resolved.name):
            # a duty body with words that are no Vietnamese syllable, matched to a known body
            notes.add(duty.line, f"đọc {duty.body!r} là {resolved.name!r} (độ tin cậy {resolved.confidence:.2f})")
            duty.body = resolved.name
        elif resolved.name is None and resolved.text != duty.body:
            # a damaged collective body read back to its usual wording ("Cc cơ quan, đơn vị …")
            notes.add(duty.line, f"đọc {duty.body!r} là {resolved.text!r} (độ tin cậy {resolved.confidence:.2f})")
            duty.body = resolved.text
        seen: set[tuple[str, dt.date | None]] = set()  # a set, not a search of the list: linear
        for text in duty.lines:
            found = reporting_in(text, notes, duty.line)
            if unfamiliar(text):
                found += _misread_reporting(text, found, notes, duty.line)
            for entry in found:
                if (entry.every, entry.by) not in seen:
                    seen.add((entry.every, entry.by))
                    duty.reporting.append(entry)
    return duties


def _damaged_copy(body: str, name: str) -> bool:
    """Whether a duty's body is the known `name` as OCR damaged it: letters lost or misread and
    nothing added, or words that are no syllable and no more words than the name has ("Trung tâm
    Vdn ha thông tin và Thể dục thể thao" has more: a body of its own, "Thể dục" and all)."""
    return lost_letters(body, name) or (misread(body) and len(body.split()) <= len(name.split()))


def _rejoined(lines: list[str]) -> list[str]:
    """Duty lines with a sentence broken across two lines made one again: a line that does not
    end a sentence, followed by one that opens in lower case or with a number ("… báo cáo kết quả
    khảo sát" / "6 tháng, 9 tháng về UBND xã"), as a scan's line breaks leave them."""
    joined: list[str] = []
    for text in lines:
        if (
            joined
            and not joined[-1].rstrip().endswith((".", ";", ":", "!", "?"))
            and (text[:1].islower() or text[:1].isdigit())
        ):
            joined[-1] = f"{joined[-1].rstrip()} {text}"
        else:
            joined.append(text)
    return joined


def _misread_reporting(text: str, found: list[Reporting], notes: Notes, line: int) -> list[Reporting]:
    """Reporting duties only a duty line with its OCR-misread words read back states ("Dinh ky
    qy, 6 thang bao ca6 ..."): how often and by when, with a warning; to whom is left out (the
    wording read back has lost its diacritics)."""
    said = {entry.every: entry for entry in found}
    quiet = Notes()  # the second look does not repeat the first one's warnings
    more: list[Reporting] = []
    dated: list[str] = []
    second = reporting_in(period_words(repaired_phrases(text)), quiet, line)
    # Periods the first look did not see ("6 tbág đầu năm … và cả năm …"): the dates it gave went
    # to the periods it saw, so the second look's, which sees them all, are the better reading.
    sees_more = any(entry.every not in said for entry in second)
    for entry in second:
        first = said.get(entry.every)
        if first is None:
            more.append(Reporting(every=entry.every, by=entry.by, text=text))
        elif entry.by is not None and (first.by is None or (sees_more and first.by != entry.by)):
            first.by = entry.by  # "rước ngy 30/11/2026": the date read on the second look
            dated.append(entry.every)
    if more or dated:
        kinds = ", ".join(entry.every for entry in more) + (f"; hạn của {', '.join(dated)}" if dated else "")
        notes.add(line, f"đọc báo cáo định kỳ ({kinds.strip('; ')}) từ dòng bị nhận dạng sai: {text[:80]!r}")
    return more


_EVERY = [
    (
        "quarter",
        re.compile(
            r"hang quy|moi quy|lan\s*/\s*quy|dinh ky quy|theo quy\b(?!\s*d[a-z]{0,4}\b)"  # not "theo quy định"
            r"|\bquy\s*(?:[il1|]{1,3}v?|[il1|]?v|[1-4])\b|\bquy\s*,"
        ),
    ),
    ("half", re.compile(r"\b0?6 thang|sau thang")),
    ("nine_months", re.compile(r"\b9 thang|chin thang")),
]
_REPORTS = re.compile(
    r"bao cao\b[^.;]{0,40}?\bket qua|bao cao (?:dinh ky|tinh hinh|so ket|tong ket|quy|6 thang|9 thang|nam)\b"
    r"|dinh ky.{0,60}bao cao|bao cao\b[^.;]{0,40}?\bdinh ky|bao cao\b[^.;]{0,40}?\b(?:quy|6 thang|9 thang)\b"
    r"|che do bao cao|gui bao cao"
)
_YEAR = re.compile(r"hang nam|ca nam|bao cao nam|tong ket nam|\bnam (?:19|20)\d{2}")
_BY = re.compile(r"(?:truoc|cham nhat|han chot)\b")
_TO = re.compile(
    r"(?:gui ve|gui|bao cao ve|ve)\s+(?P<to>(?:ubnd|uy ban nhan dan|phong|so|van phong|ban)\b[^.;(]*?(?:\([^)]*\))?)"
    r"(?=\s*(?:truoc|de|theo|dinh ky|;|\.|,|$))"
)


def reporting_in(text: str, notes: Notes, line: int) -> list[Reporting]:
    """The reporting duties one duty line states: one per kind of period it names, clause by
    clause ('…hằng quý báo cáo …; báo cáo 6 tháng … trước ngày 20/6/2025': the date is the
    half-year's)."""
    found: dict[tuple[str, dt.date | None], Reporting] = {}  # in order; keyed, so that many clauses stay linear
    named: set[str] = set()
    for clause in re.split(r";|,?\s+và\s+(?=báo cáo)", text):
        for entry in _clause_reporting(clause, notes, line):
            if (entry.by is None and entry.every in named) or (entry.every, entry.by) in found:
                continue  # said already (a clause without a date adds nothing to one with)
            found.pop((entry.every, None), None)  # a date now for a period said before without one
            found[(entry.every, entry.by)] = entry
            named.add(entry.every)
    return list(found.values())


def _clause_reporting(text: str, notes: Notes, line: int) -> list[Reporting]:
    folded = fold(text)
    if not _REPORTS.search(folded):  # "báo cáo UBND xã xem xét" presents a matter; it is no report
        return []
    rest = re.sub(r"(?:0?6|9) thang (?:(?:dau|cuoi) )?nam(?: (?:19|20)\d{2})?", " _ ", folded)
    kinds = [every for every, pattern in _EVERY if pattern.search(folded)]
    report_at = rest.find("bao cao")
    if _YEAR.search(rest[report_at:]) or re.search(r"(?:,|\bva)\s+nam\b(?!\s*(?:19|20)\d{2})", rest):
        kinds.append("year")
    if not kinds:
        if "dinh ky" in folded:
            notes.add(line, f"nêu báo cáo định kỳ nhưng không rõ kỳ báo cáo: {text[:80]!r}")
        return []
    dates: list[tuple[int, dt.date]] = []
    for due in _BY.finditer(folded):  # "trước ngày 30/11/2025": read by the one timeline parser
        try:
            schedule = parse_timeline(text[due.start() : due.start() + 40])
        except TimelineError:
            continue
        if schedule.kind == "deadline" and schedule.date is not None:
            dates.append((due.start(), schedule.date))
    if not dates:  # "trưoc này 05/12/2026", "tuoc ngy 10/9/2026": the words before the date damaged
        dates = _damaged_deadlines(folded)
    to = ""
    target = _TO.search(folded)
    if target:
        to = text[target.start("to") : target.end("to")].strip(" ,*")
    # A date belongs to the period named last before it ("6 tháng (trước ngày 20/6) và năm
    # (trước ngày 20/11)"); with one period named, it is that period's.
    by: dict[str, dt.date] = {}
    mentions = {every: _mentions(folded, every) for every in kinds} if len(kinds) > 1 else {}
    for at, day in dates:
        named = [(where, every) for every in mentions if (where := _named_at(mentions[every], at)) is not None]
        if len(kinds) == 1:
            by.setdefault(kinds[0], day)
        elif named:
            by.setdefault(max(named)[1], day)
    if not dates and _WRITTEN_DATE.search(folded):  # a date is written, but not one the parser reads
        notes.add(line, f"báo cáo có ghi ngày nhưng không đọc được hạn báo cáo: {text[:80]!r}")
    return [Reporting(every=every, to=to, by=by.get(every), text=text) for every in kinds]


_DATE_AFTER = re.compile(
    r"(?P<before>(?:\S+\s+){1,2})(?P<d>\d{1,2})\s*(?:[/.-]|\s+\S{1,6}\s+)(?P<m>\d{1,2})\s*(?:[/.-]|\s+\S{1,4}\s+)"
    r"(?P<y>(?:19|20)\d{2})\b"
)


def _damaged_deadlines(folded: str) -> list[tuple[int, dt.date]]:
    """Dates in a clause whose one or two words before are what OCR left of "trước (ngày)"
    ("truoc nay", "tuoc ngy", "trướ ny"), with where they stand: a deadline, read on a second look."""
    found = []
    for match in _DATE_AFTER.finditer(folded):
        words = match["before"].split()
        if not any(len(w) >= 3 and Levenshtein.distance(skeleton(w), skeleton("truoc")) <= 2 for w in words):
            continue
        try:
            found.append((match.start(), dt.date(int(match["y"]), int(match["m"]), int(match["d"]))))
        except ValueError:
            continue
    return found


def period_words(text: str) -> str:
    """A report line (matching form) with what OCR left of its period words read back by their
    place: after 6 or 9 "tháng" ("6 tán", "9 thá"), after "hằng"/"định kỳ" the period ("hằn qu"),
    in a list of periods "năm" ("6 thang, nă")."""

    def month(match: re.Match[str]) -> str:
        word = match[2]
        return f"{match[1]} thang" if _lost_from(word, "thang") or _lost_from(skeleton(word), "thang") else match[0]

    text = re.sub(r"\b([69])\s+([a-z]{1,5})\b", month, text)
    # "qy III/2025", "qu 2/2026": a quarter of a year, its word short of a letter
    text = re.sub(r"\b(?:qu|qy|uy)\s+(?=(?:[il1|]{1,3}v?|[il1|]?v|[1-4])\s*/\s*(?:19|20)\d{2}\b)", "quy ", text)

    def period(match: re.Match[str]) -> str:
        word = skeleton(match[2])
        if match[2] in _EVERY_WORDS:
            return match[0]
        for whole in ("quy", "thang", "nam"):
            close = len(word) >= 3 and Levenshtein.distance(word, skeleton(whole)) <= 1
            if _lost_from(word, whole) or close:
                return f"{match[1]} {whole}"
        return match[0]

    text = re.sub(r"\b(hang|han|ha|hn|moi)\s+([a-z|]{1,5})\b", period, text)  # "hằn qu", "hằng ria"
    text = re.sub(r"\b(dinh ky|dinh k|din ky)\s+([a-z|]{1,5})\b", period, text)  # "định kỳ qý"
    text = re.sub(r"\b(?:han|ha|hn)\s+(quy|thang|nam)\b", r"hang \1", text)  # "hằn quý": "hằng quý"
    return re.sub(r"(,\s*|\bva\s+)(na|nm|am|nim|ndm|narn)\b", r"\1nam", text)


_EVERY_WORDS = {"hang", "han", "ha", "hn", "moi", "quy", "thang", "nam", "bao"}


def _lost_from(word: str, whole: str) -> bool:
    """`word` is `whole` with one or two letters lost (in order, nothing added)."""
    letters = iter(whole)
    return 0 < len(whole) - len(word) <= 2 and all(ch in letters for ch in word)


_WRITTEN_DATE = re.compile(r"\d{1,2}\s*/\s*\d{1,2}(?:\s*/\s*\d{2,4})?|\d{1,2}\s+\S{1,6}\s+\d{1,2}")
_YEAR_NAMED = re.compile(r"(?<!thang dau )(?<!thang cuoi )\bnam\b(?!\s*(?:19|20)\d{2})|hang nam|ca nam")


def _mentions(folded: str, every: str) -> list[int]:
    """Where the period `every` is named in the clause, in order (found once per clause, not once
    per date in it: a long clause of many dates stays linear)."""
    pattern = dict(_EVERY).get(every) or _YEAR_NAMED
    return [match.start() for match in pattern.finditer(folded)]


def _named_at(mentions: list[int], before: int) -> int | None:
    """Where the period is last named before position `before` in the clause."""
    index = bisect.bisect_left(mentions, before)
    return mentions[index - 1] if index else None
