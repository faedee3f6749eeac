"""A timeline cell read back when OCR has damaged it ("Hằn tban", "háng 3/202S", "Truoc ày
15/02/2026"): each word given every reading the words of timelines allow (a letter lost, a letter
misread, a digit read as a letter), and the readings tried whole against the one timeline parser.
A word lost to damage that leaves another word ("hang" for "tháng") is read by its context: only
a reading the parser understands counts, the closest to what is written wins, and two equally
close readings that mean different things are no reading at all."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from services.plans.importer.vocabulary import TIME_WORDS, skeleton
from shared.text import normalize
from shared.timelines import Schedule, TimelineError, parse_timeline

# Digits read as letters ("202S", "3O/11", "1S/02"): the letters a digit takes in a scan.
_DIGIT_LOOKS = str.maketrans({"o": "0", "s": "5", "b": "8", "l": "1", "i": "1", "|": "1", "!": "1"})
_NUMBERISH = re.compile(r"[0-9osbli|!]+")
_TOKEN = re.compile(r"[a-z0-9|!]+")
_ROMAN_LIKE = re.compile(r"[il1|]{1,3}v?|[il1|]?v")
MAX_READINGS = 512  # readings tried for one cell: a timeline has a handful of words
# The words of timelines, and those of deadlines and spans beside them ("chậm nhất", "đến hết",
# "liên tục", "một lần"): a wider set than the one-word repair's, since the parser arbitrates.
WORDS = TIME_WORDS.words | frozenset("cham nhat het lien tuc mot han chot hoan thanh".split())


@dataclass(frozen=True)
class TimeReading:
    schedule: Schedule
    text: str  # the reading that parsed, matching form
    cost: float  # how far it is from what is written (letters added or changed)


def _options(token: str, before: str) -> list[tuple[str, float]]:
    """A token's readings with what each costs: itself, the time words it can be a damaged copy
    of, its digits read back, or nothing (a stamp word or a stray letter inside the cell)."""
    options: list[tuple[str, float]] = [(token, 0.0)]
    if token.isdigit() or (before.endswith("quy ") and _ROMAN_LIKE.fullmatch(token)):
        return options  # a number, or a quarter's numeral (the parser reads "quy il" itself)
    if _NUMBERISH.fullmatch(token) and any(c.isdigit() for c in token) or re.fullmatch(r"[os]", token):
        digits = token.translate(_DIGIT_LOOKS)
        if digits != token:
            options.append((digits, 0.5 * sum(a != b for a, b in zip(token, digits, strict=True))))
    if re.search(r"[a-z]", token):
        folded = skeleton(token)
        for word in WORDS:
            if word == token:
                continue
            shape = skeleton(word)
            if shape == folded:
                options.append((word, 0.5))
            elif _lost(folded, shape):
                options.append((word, float(len(shape) - len(folded))))
            elif len(folded) >= 3 and Levenshtein.distance(folded, shape) == 1:
                options.append((word, 1.0))
        options.append(("", 1.5))  # a word the cell does not need ("trước UBND ngày …")
    return options


def _lost(token: str, word: str) -> bool:
    """Whether `token` is `word` with one letter left out, or two from a word of four or more
    ("hn" for "hang", "tan" for "thang": a thin font loses the same letters all over a page)."""
    missing = len(word) - len(token)
    if not 0 < missing <= (2 if len(word) >= 4 else 1):
        return False
    letters = iter(word)
    return all(ch in letters for ch in token)


def read_timeline(text: str) -> TimeReading | None:
    """The one timeline a damaged cell says, with the reading it was found in; None when no
    reading parses, or when equally close readings mean different schedules."""
    norm = normalize(text)
    tokens = list(_TOKEN.finditer(norm))
    if not tokens or len(tokens) > 12:
        return None
    choices = []
    for match in tokens:
        choices.append(sorted(_options(match.group(), norm[: match.start()]), key=lambda option: option[1]))
    while _count(choices) > MAX_READINGS:  # keep the cheapest readings of the most ambiguous word
        widest = max(range(len(choices)), key=lambda i: len(choices[i]))
        choices[widest] = choices[widest][: max(1, len(choices[widest]) // 2)]
    found: list[TimeReading] = []
    for combination in itertools.product(*choices):
        cost = sum(option[1] for option in combination)
        if cost == 0 or cost > 2.0 * len(tokens):
            continue
        pieces, at = [], 0
        for match, (word, _) in zip(tokens, combination, strict=True):
            pieces += [norm[at : match.start()], word]
            at = match.end()
        reading = re.sub(r"\s+", " ", "".join([*pieces, norm[at:]])).strip()
        try:
            schedule = parse_timeline(reading)
        except (TimelineError, ValueError):
            continue
        found.append(TimeReading(schedule, reading, cost))
    if not found:
        return None
    best = min(reading.cost for reading in found)
    closest = [reading for reading in found if reading.cost == best]
    meanings = {_meaning(reading.schedule) for reading in closest}
    return closest[0] if len(meanings) == 1 else None


def digits_read_back(text: str) -> str:
    """`text` (matching form) with the digits OCR read as letters read back, in tokens that hold
    a digit: "nam 202s" → "nam 2025", "3o/11" → "30/11"."""
    return _NUMBERISH.sub(
        lambda m: m.group().translate(_DIGIT_LOOKS) if any(c.isdigit() for c in m.group()) else m.group(), text
    )


def _count(choices: list[list[tuple[str, float]]]) -> int:
    total = 1
    for options in choices:
        total *= len(options)
    return total


def _meaning(schedule: Schedule) -> str:
    return schedule.model_dump_json(exclude={"text"})
