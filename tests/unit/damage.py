"""OCR damage, made on purpose: a clean plan's text with, at a chosen rate, the damage scanned
plans arrive with (issue 19) — diacritics lost, letters dropped (and at high rates a few letters
dropped everywhere), OCR confusions, sentences broken across lines, page numbers and stamp words
inserted, roman numerals read as letters. Deterministic for a seed; each class can be switched
off, so the importer's accuracy can be measured per class (bench/importer_damage.py).

A .docx fixture is first turned into text the way the importer reads it (`read_lines`): its
paragraphs one a line, its task-table rows as cells joined by tabs (a task row's cell of several
lines joined by "; ", a header cell's by a space) — the shape of a text copy of a scanned table."""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

from services.plans.importer.draft import read_lines
from services.plans.importer.lines import row_number

CLASSES = ("diacritics", "letters", "confusions", "breaks", "stamps", "roman")

# What OCR reads for a letter or a digit (the examples: "Thot gian thyc hién", "S6:",
# "nim"/"ndm", "Pang"); digits only become letter-like shapes, never another digit, since a 1
# read as 7 is a wrong fact no reader can notice.
CONFUSIONS: dict[str, tuple[str, ...]] = {
    "i": ("l", "1", "|"),
    "l": ("1", "i", "|"),
    "o": ("0", "6", "ơ"),
    "ơ": ("o", "6"),
    "ô": ("o", "0", "6"),
    "ố": ("6", "o"),
    "ờ": ("o",),
    "ớ": ("o",),
    "đ": ("d", "P"),
    "Đ": ("D", "P"),
    "m": ("rn",),
    "d": ("cl",),
    "ă": ("a", "i", "d"),
    "â": ("a",),
    "ư": ("u", "y"),
    "ự": ("y", "u"),
    "ệ": ("é", "e"),
    "e": ("c",),
    "h": ("b",),
    "n": ("ri",),
    "0": ("O", "o"),
    "1": ("l", "I", "|"),
    "5": ("S",),
    "8": ("B",),
}
TWO_LETTER = {"rn": "m"}  # and back: "rn" read as "m"
ROMAN_MISREAD = {
    "I": ("l", "1", "|"),
    "II": ("Il", "11", "ll", "lI"),
    "III": ("Ill", "lll", "II1", "111"),
    "IV": ("lV", "1V", "IY"),
    "V": ("Y",),
    "VI": ("Vl", "V1", "YI"),
    "VII": ("VIl", "Vll", "V11"),
    "VIII": ("VIll", "Vlll"),
}
STAMPS = ("ỦY BAN NHÂN DÂN", "ĐÃ KÝ", "UBND", "CHỦ TỊCH")
WHOLE_LETTERS = "nhgpđ"  # letters a worn print or a thin font loses everywhere ('Vă ò g H ND')
_ROMAN = re.compile(r"(?<![\wÀ-ỹ])(?:VIII|VII|VI|IV|V|III|II|I)(?![\wÀ-ỹ])")
_WORD = re.compile(r"\S+")


def plan_text(path: Path) -> str:
    """The text of a fixture as the damage is applied to it (see the module docstring)."""
    content = path.read_bytes()
    if path.suffix.lower() != ".docx":
        return content.decode("utf-8-sig")
    out = []
    for line in read_lines(content, path.name):
        if line.cells is not None:
            # a task row's cell of several bodies keeps them apart; a header cell ("Số\nTT") is one
            joint = "; " if line.cells and row_number(line.cells[0]) is not None else " "
            out.append("\t".join(cell.replace("\n", joint) for cell in line.cells))
        else:
            out.append(line.text)
    return "\n".join(out) + "\n"


def whole_letters(rate: float, seed: int) -> str:
    """The letters dropped across the whole document: none below 20 %, one at 20 %, two at 30 %."""
    count = 0 if rate < 0.2 else 1 if rate < 0.3 else 2
    return "".join(random.Random(f"{seed}/whole").sample(WHOLE_LETTERS, count))


def damage(text: str, rate: float, seed: int = 0, classes: Iterable[str] = CLASSES) -> str:
    """`text` damaged at `rate` (0 … 1) per eligible unit of each class in `classes`: a word for
    diacritics and confusions, a word for a dropped letter, a line for a break or an insertion, a
    roman numeral for its misreading. The same text, rate, seed and classes give the same result."""
    on = set(classes)
    unknown = on - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown damage classes: {sorted(unknown)}")
    rng = {name: random.Random(f"{seed}/{name}/{rate}") for name in CLASSES}
    dropped = whole_letters(rate, seed) if "letters" in on else ""
    word_steps: list[Callable[[str], str]] = []
    if "roman" in on:
        word_steps.append(lambda w: _roman(w, rate, rng["roman"]))
    if "diacritics" in on:
        word_steps.append(lambda w: _strip(w) if rng["diacritics"].random() < rate else w)
    if "letters" in on:
        word_steps.append(lambda w: _drop(w, rate, rng["letters"], dropped))
    if "confusions" in on:
        word_steps.append(lambda w: _confuse(w, rng["confusions"]) if rng["confusions"].random() < rate else w)

    def words(segment: str) -> str:
        def one(match: re.Match[str]) -> str:
            word = match.group()
            for step in word_steps:
                word = step(word)
            return word

        return _WORD.sub(one, segment)

    out: list[str] = []
    for line in text.split("\n"):
        if "\t" in line:  # a table row: its cells damaged, the row kept whole
            out.append("\t".join(words(cell) for cell in line.split("\t")))
            continue
        prose = len(line.split()) >= 6
        if "stamps" in on and prose and rng["stamps"].random() < rate:
            parts = line.split(" ")
            at = rng["stamps"].randrange(1, len(parts))
            line = " ".join([*parts[:at], rng["stamps"].choice(STAMPS), *parts[at:]])
        damaged = words(line)
        if "breaks" in on and prose and rng["breaks"].random() < rate:
            parts = damaged.split(" ")
            at = rng["breaks"].randrange(max(1, len(parts) // 3), max(2, len(parts) * 2 // 3))
            out += [" ".join(parts[:at]), " ".join(parts[at:])]
        else:
            out.append(damaged)
        if "stamps" in on and line.strip() and rng["stamps"].random() < rate / 2:
            page = rng["stamps"].randint(2, 12)
            out.append(rng["stamps"].choice((f"- {page} -", str(page), f"Trang {page}")))
    return "\n".join(out)


def _strip(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def _drop(word: str, rate: float, rng: random.Random, everywhere: str) -> str:
    if everywhere:
        word = "".join(c for c in word if _strip(c).lower() not in everywhere and c.lower() not in everywhere)
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if len(letters) >= 2 and rng.random() < rate:
        at = rng.choice(letters)
        word = word[:at] + word[at + 1 :]
    return word


def _confuse(word: str, rng: random.Random) -> str:
    spots = [(i, 1) for i, c in enumerate(word) if c.lower() in CONFUSIONS]
    spots += [(m.start(), 2) for m in re.finditer("rn", word)]
    if not spots:
        return word
    at, width = rng.choice(spots)
    original = word[at : at + width]
    new = TWO_LETTER[original] if width == 2 else rng.choice(CONFUSIONS[original.lower()])
    if width == 1 and original.isupper() and original != "I" and new.isalpha():
        new = new.upper()
    return word[:at] + new + word[at + width :]


def _roman(word: str, rate: float, rng: random.Random) -> str:
    def misread(match: re.Match[str]) -> str:
        numeral = match.group()
        return rng.choice(ROMAN_MISREAD[numeral]) if rng.random() < rate else numeral

    return _ROMAN.sub(misread, word)
