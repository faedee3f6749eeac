"""The pages of a PDF or a scan as what they hold, in reading order: text laid out with spaces and
ruled tables as rows of cells, turned into numbered lines exactly as `read_docx` gives a Word
file (a task table's rows keep their cells; a table continued on the next page with the same
columns stays one table; the text goes through `read_text`, as any text laid out with spaces)."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.plans.importer.layout import Word, lay_out, rows_of
from services.plans.importer.lines import Line, _clean, _is_task_table, read_text

Box = tuple[float, float, float, float]  # x0, top, x1, bottom


@dataclass
class Table:
    number: int
    columns: list[float]  # each column's left edge as a fraction of the page's width
    rows: list[list[str]]
    tasks: bool


@dataclass
class Pages:
    parts: list[list[str] | Table] = field(default_factory=list)
    tables: int = 0

    def text(self, raws: list[str]) -> None:
        if raws and self.parts and isinstance(self.parts[-1], list):
            self.parts[-1].extend(raws)
        elif raws:
            self.parts.append(list(raws))

    def table(self, columns: list[float], rows: list[list[str]]) -> None:
        last = self.parts[-1] if self.parts else None
        if isinstance(last, Table) and len(last.columns) == len(columns):
            if all(abs(a - b) <= 0.01 for a, b in zip(last.columns, columns, strict=True)):
                last.rows.extend(rows)  # continued from the page before (its header repeated or not)
                return
        self.tables += 1
        self.parts.append(Table(self.tables, columns, rows, _is_task_table(rows[:2])))

    def page(self, words: list[Word], tables: list[list[Box]], *, width: float, slack: float = 0.0) -> None:
        """One page: its words outside the tables laid out as text, each table (its cells' boxes)
        as rows of cells, top to bottom."""
        boxes = [_bounds(cells) for cells in tables]
        outside = [w for w in words if not any(_holds(box, w) for box in boxes)]
        left = min((w.x0 for w in outside), default=0.0)
        right = max((w.x1 for w in outside), default=0.0)
        for cells, box in sorted(zip(tables, boxes, strict=True), key=lambda pair: pair[1][1]):
            above = [w for w in outside if w.middle < box[1]]
            outside = [w for w in outside if w.middle >= box[1]]
            self.text(lay_out(above, left=left, right=right))
            inside = [w for w in words if _holds(box, w)]
            columns, rows = grid(cells, inside, slack=slack)
            if rows:
                self.table([x / width for x in columns], rows)
        self.text(lay_out(outside, left=left, right=right))

    def lines(self) -> list[Line]:
        lines: list[Line] = []
        for part in self.parts:
            if isinstance(part, Table):
                _table_lines(part, lines)
                continue
            for line in read_text("\n".join(part).encode("utf-8")):
                lines.append(Line(len(lines) + 1, line.text, cells=line.cells))
        return lines


def _bounds(cells: list[Box]) -> Box:
    return (min(c[0] for c in cells), min(c[1] for c in cells), max(c[2] for c in cells), max(c[3] for c in cells))


def _holds(box: Box, word: Word) -> bool:
    x = (word.x0 + word.x1) / 2
    return box[0] <= x <= box[2] and box[1] <= word.middle <= box[3]


def _table_lines(table: Table, lines: list[Line]) -> None:
    """As `read_docx` gives a table: a task table's rows with their cells; any other table as the
    text of each cell, a cell merged over several grid places once."""
    if table.tasks:
        for row in table.rows:
            cells = ["\n".join(filter(None, map(_clean, text.split("\n")))) for text in row]
            lines.append(Line(len(lines) + 1, " ".join(c for c in cells if c), cells=cells, table=table.number))
        return
    seen: set[str] = set()
    for cells in table.rows:
        for text in cells:
            if text in seen:
                continue
            seen.add(text)
            for part in text.split("\n"):
                lines.append(Line(len(lines) + 1, _clean(part)))


def grid(cells: list[Box], words: list[Word], *, slack: float = 0.0) -> tuple[list[float], list[list[str]]]:
    """The table as the text of the cell at each place of its grid, as a Word table's grid: a cell
    merged across columns or down rows is repeated at every place it covers; the x of each grid
    column's left edge."""
    xs = _edges([c[0] for c in cells] + [c[2] for c in cells])
    ys = _edges([c[1] for c in cells] + [c[3] for c in cells])
    texts: dict[Box, str] = {}
    rows: list[list[str]] = []
    for top, bottom in zip(ys, ys[1:], strict=False):
        row = []
        for x0, x1 in zip(xs, xs[1:], strict=False):
            x, y = (x0 + x1) / 2, (top + bottom) / 2
            cell = next((c for c in cells if c[0] <= x <= c[2] and c[1] <= y <= c[3]), None)
            if cell is None:
                row.append("")
                continue
            if cell not in texts:
                texts[cell] = cell_text([w for w in words if _holds(cell, w)], cell, slack=slack)
            row.append(texts[cell])
        if any(row):
            rows.append(row)
    return xs[:-1], rows


def _edges(values: list[float]) -> list[float]:
    """Positions closer than 3 units (points or pixels) taken as one ruling."""
    edges: list[float] = []
    for value in sorted(values):
        if not edges or value - edges[-1] > 3:
            edges.append(value)
    return edges


def cell_text(words: list[Word], box: Box, *, slack: float = 0.0) -> str:
    """The cell's text, its lines wrapped by the cell's width joined with a space and its own line
    breaks kept ('\\n', as between the paragraphs of a Word cell): a line ended early, where the
    next line's first word would have fitted (with `slack` to spare: OCR's boxes are rough), was
    ended on purpose."""
    rows = rows_of(words)
    if not rows:
        return ""
    padding = max(min(w.x0 for w in words) - box[0], 1.0)
    right = box[2] - padding
    text = " ".join(w.text for w in rows[0])
    for before, row in zip(rows, rows[1:], strict=False):
        space = (row[0].bottom - row[0].top) * 0.3
        fits = before[-1].x1 + space + (row[0].x1 - row[0].x0) <= right - slack
        text += ("\n" if fits else " ") + " ".join(w.text for w in row)
    return text
