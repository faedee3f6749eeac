"""Words with their boxes on a page (from a PDF's text layer or from OCR) laid out as lines of text
with spaces by their x position, as `pdftotext -layout` does: words on one visual row make one
line, a wide gap between them stays wide (two columns of a header, the cells of a table without
rulings), so that `read_text` cuts them as it cuts any text laid out with spaces."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

# A row that opens a list item ("- ", "4. ", "b) ", "II. ") after a row ending a sentence starts anew.
_ITEM = re.compile(r"^(?:[-+•*]|\d{1,2}(?:\.\d{1,2})*[.)]|[a-zđ]\)|[IVX]{1,5}\.)$")


@dataclass(frozen=True)
class Word:
    text: str
    x0: float
    top: float
    x1: float
    bottom: float

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return self.bottom - self.top


def rows_of(words: list[Word]) -> list[list[Word]]:
    """Words grouped into visual rows, top to bottom, each row left to right: a word belongs to
    the row whose middle lies within half its height of its own (a slight tilt or a descender
    does not start a new row)."""
    rows: list[list[Word]] = []
    middles: list[float] = []
    heights: list[float] = []  # the tallest word of each row: a dash or a comma is no measure
    for word in sorted(words, key=lambda w: (w.middle, w.x0)):
        if rows and abs(word.middle - middles[-1]) <= max(word.height, heights[-1], 1.0) * 0.5:
            rows[-1].append(word)
            middles[-1] = statistics.fmean(w.middle for w in rows[-1])
            heights[-1] = max(heights[-1], word.height)
        else:
            rows.append([word])
            middles.append(word.middle)
            heights.append(word.height)
    return [sorted(row, key=lambda w: w.x0) for row in rows]


def char_width(words: list[Word]) -> float:
    """The page's typical width of one character (the median over its words)."""
    widths = [(w.x1 - w.x0) / len(w.text) for w in words if len(w.text) >= 2 and w.x1 > w.x0]
    return statistics.median(widths) if widths else 1.0


def _one_run(row: list[Word], width: float) -> bool:
    return all(b.x0 - a.x1 < 2 * width for a, b in zip(row, row[1:], strict=False))


def unwrap(rows: list[list[Word]], *, right: float, width: float) -> list[list[Word]]:
    """Rows joined where the text was wrapped by the width of the page: a row of running text that
    ends so near `right` (the text block's right edge) that the next row's first word would not
    have fitted after it; a row ended before that was ended on purpose (a heading, a label's
    line, a paragraph's end)."""
    joined: list[list[Word]] = []
    for row in rows:
        if joined and _one_run(joined[-1], width) and _one_run(row, width):
            last, first = joined[-1][-1], row[0]
            item = last.text.endswith((".", ":", ";")) and _ITEM.match(first.text)
            if last.x1 + width + (first.x1 - first.x0) > right + width * 0.5 and first.top > last.top and not item:
                joined[-1] = joined[-1] + row
                continue
        joined.append(row)
    return joined


def lay_out(words: list[Word], *, left: float | None = None, right: float | None = None) -> list[str]:
    """Lines of text, one per visual row, each word at the column its x position gives (a gap of
    two characters or more stays at least two spaces); an empty line where rows are further apart
    than a line (a paragraph's break). With `right` (the text's right edge), rows wrapped by the
    page's width are one line (`unwrap`)."""
    if not words:
        return []
    width = char_width(words)
    left = min(w.x0 for w in words) if left is None else left
    rows = rows_of(words)
    if right is not None:
        rows = unwrap(rows, right=right, width=width)
    height = statistics.median(w.height for w in words)
    lines: list[str] = []
    previous_bottom: float | None = None
    for row in rows:
        top = min(w.top for w in row)
        if previous_bottom is not None and top - previous_bottom > height:
            lines.append("")
        previous_bottom = row[-1].bottom
        text = ""
        last_x1: float | None = None
        for word in row:
            column = max(round((word.x0 - left) / width), 0)
            gap = 0.0 if last_x1 is None else (word.x0 - last_x1) / width
            spaces = 0 if last_x1 is None else (2 if gap >= 2 else 1)
            text += " " * max(column - len(text), spaces) + word.text
            last_x1 = word.x1
        lines.append(text)
    return lines
