"""Vietnamese text as matching sees it (no diacritics, đ → d, lower case, single spaces), and text
as a Word or Excel file can hold it."""

from __future__ import annotations

import re
import unicodedata

_D = str.maketrans({"đ": "d", "Đ": "D", "ð": "d", "Ð": "D"})


def normalize(text: str) -> str:
    """Lower case, no diacritics, đ → d, single spaces: the form all matching works on."""
    # "Ð" (U+00D0, Icelandic) is what some fonts and OCR give for "Đ"
    decomposed = unicodedata.normalize("NFD", text.translate(_D))
    plain = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return re.sub(r"\s+", " ", plain.lower()).strip()


def natural_key(text: str) -> tuple[int | str, ...]:
    """Sort key putting "2" before "10" and "4.1" before "4.2" (task numbers, plan numbers)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text or ""))


# Characters XML 1.0 cannot hold (python-docx and openpyxl raise on them): C0 controls other than
# tab, line feed and carriage return, DEL, and the two non-characters U+FFFE/U+FFFF.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def printable(text: str) -> str:
    """`text` without what a Word or Excel file cannot store: one stray control character typed
    into a note must not make every ancestor's report fail to export."""
    return NOT_XML.sub("", text)


def grouped(amount: float, digits: int = 0) -> str:
    """A number the Vietnamese way: 1.234.567 and 1.234,5 (dot between thousands, comma before
    decimals)."""
    text = f"{amount:,.{digits}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")
