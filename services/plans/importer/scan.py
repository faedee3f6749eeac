"""Scanned pages read by OCR: images (.png, .jpg, .tif with every frame) and the pages of a PDF that
have no text layer, straightened, read by Tesseract with its Vietnamese data, and laid out as text
with spaces (`layout.lay_out`), which `read_text` reads as it reads any text file. Bounded: pages,
pixels and the seconds OCR may take (`ReadLimits`, from the settings)."""

from __future__ import annotations

import io
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pytesseract
from PIL import Image, ImageOps, ImageSequence

from services.plans.importer.layout import Word, char_width
from services.plans.importer.lines import Line, UnreadableDocument
from services.plans.importer.pages import Box, Pages

# Tesseract's OpenMP threads cost more than they give on a busy machine: one page took 7.7 s (6.5 s
# of CPU) with them and 3.0 s (1.5 s) without, on 2 cores under load 5. A page per process instead.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
LANGUAGES = "vie"  # "vie+eng" read the stamped page worse (0.911 of its words against 0.934), the table the same
MIN_CONFIDENCE = 20  # Tesseract's word confidence (0–100) below which a "word" is a speck or a stamp's rim
DOUBTFUL = 60  # below it, the ruled cell the word is in is read again on its own
DPI = 300
_SPECK = re.compile(r"^[\s.,'`:;|_~“”‘’\"]*$")  # a speck, or what is left of a ruling: no word
Progress = Callable[[int, int], None]  # (page, pages), before a page is read by OCR


@dataclass(frozen=True)
class ReadLimits:
    """How much of a document the importer reads: pages, pixels of one image, seconds of OCR
    (CCHC_IMPORT_MAX_PAGES, CCHC_IMPORT_MAX_IMAGE_PIXELS, CCHC_IMPORT_OCR_TIME_LIMIT_SECONDS)."""

    max_pages: int = 40
    max_pixels: int = 60_000_000
    ocr_seconds: float = 180.0

    @classmethod
    def from_settings(cls, settings: object) -> ReadLimits:
        return cls(
            max_pages=getattr(settings, "import_max_pages", cls.max_pages),
            max_pixels=getattr(settings, "import_max_image_pixels", cls.max_pixels),
            ocr_seconds=getattr(settings, "import_ocr_time_limit_seconds", cls.ocr_seconds),
        )


class DocumentTooLarge(UnreadableDocument):
    """More pages or pixels than the limits allow: refused (413), naming the setting."""


class ReadingTooLong(Exception):
    """OCR took longer than CCHC_IMPORT_OCR_TIME_LIMIT_SECONDS (503, as any time limit)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        limit = f"{seconds:g}".replace(".", ",")
        super().__init__(
            f"nhận dạng chữ bản quét cần quá {limit} giây, giới hạn của máy chủ "
            "(CCHC_IMPORT_OCR_TIME_LIMIT_SECONDS); hãy thử lại với ít trang hơn"
        )


class OcrUnavailable(Exception):
    """Tesseract or its Vietnamese data is not installed on this machine (503: the server's fault)."""


def too_many_pages(pages: int, limits: ReadLimits) -> DocumentTooLarge:
    return DocumentTooLarge(
        f"tệp có {pages} trang, quá giới hạn {limits.max_pages} trang của máy chủ (CCHC_IMPORT_MAX_PAGES); "
        "hãy tách phần phụ lục nhiệm vụ ra tệp riêng"
    )


def check_pixels(width: int, height: int, limits: ReadLimits) -> None:
    if width * height > limits.max_pixels:
        raise DocumentTooLarge(
            f"ảnh {width}×{height} điểm ảnh, quá giới hạn {limits.max_pixels:,} điểm ảnh của máy chủ "
            "(CCHC_IMPORT_MAX_IMAGE_PIXELS); hãy quét lại ở 300 dpi".replace(",", ".")
        )


@dataclass
class Deadline:
    """The OCR time limit, counted from the first page read."""

    seconds: float
    ends: float = field(init=False)

    def __post_init__(self) -> None:
        self.ends = time.monotonic() + self.seconds

    def left(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise ReadingTooLong(self.seconds)
        return left


def frames(content: bytes, limits: ReadLimits) -> Iterator[Image.Image]:
    """Every page of an image file (a multi-page TIFF: every frame), its size checked before it is
    decoded (a decompression bomb is refused, not unpacked)."""
    try:
        with warnings.catch_warnings():  # the size is checked below, against our own limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
            count = getattr(image, "n_frames", 1)
    except Image.DecompressionBombError:  # past twice Pillow's own limit: refused before our check can
        raise DocumentTooLarge(
            f"ảnh quá lớn, quá giới hạn {limits.max_pixels:,} điểm ảnh của máy chủ "
            "(CCHC_IMPORT_MAX_IMAGE_PIXELS); hãy quét lại ở 300 dpi".replace(",", ".")
        ) from None
    except (OSError, ValueError) as exc:
        raise UnreadableDocument(f"không mở được tệp ảnh: {exc}") from None
    if image.format not in ("PNG", "JPEG", "TIFF"):
        raise UnreadableDocument(f"ảnh dạng {image.format} không được nhận; hãy dùng .png, .jpg hoặc .tif")
    if count > limits.max_pages:
        raise too_many_pages(count, limits)
    for frame in ImageSequence.Iterator(image):
        check_pixels(*frame.size, limits)
        try:
            frame.load()
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise UnreadableDocument(f"tệp ảnh bị hỏng, không đọc được: {exc}") from None
        yield frame.copy()


def ink(image: Image.Image) -> Image.Image:
    """The page as grey ink on white: the red channel, in which a red stamp fades to near white
    while black (and blue) ink stays dark."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGB", "RGBA", "P", "CMYK", "LA", "PA"):
        return image.convert("RGB").getchannel("R")
    return image.convert("L")


def skew_angle(image: Image.Image, *, span: float = 3.0) -> float:
    """The angle (degrees) that makes the text lines level: the rotation whose row profile of dark
    pixels is sharpest (lines of text and blank between them), searched on a reduced copy."""
    small = image.copy()
    small.thumbnail((900, 900))
    dark = Image.fromarray(((np.asarray(small) < 128) * 255).astype(np.uint8))

    def sharpness(angle: float) -> float:
        rows = np.asarray(dark.rotate(angle, resample=Image.Resampling.NEAREST)).sum(axis=1, dtype=np.float64)
        return float(np.square(np.diff(rows)).sum())

    best = max(np.arange(-span, span + 0.01, 0.25), key=sharpness)
    return float(max(np.arange(best - 0.25, best + 0.26, 0.05), key=sharpness))


def straighten(image: Image.Image) -> Image.Image:
    angle = skew_angle(image)
    if abs(angle) < 0.1:
        return image
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)


def words_of(image: Image.Image, deadline: Deadline, *, psm: int = 3, doubts: list[Word] | None = None) -> list[Word]:
    """The words Tesseract reads on a page, with their boxes (pixels); those it is unsure of
    (confidence under DOUBTFUL, kept or not) are added to `doubts`."""
    try:
        data = pytesseract.image_to_data(
            image, lang=LANGUAGES, config=f"--psm {psm}", output_type=pytesseract.Output.DICT, timeout=deadline.left()
        )
    except pytesseract.TesseractNotFoundError:
        raise OcrUnavailable(
            "máy chủ chưa cài Tesseract để đọc bản quét (gói tesseract-ocr và tesseract-ocr-vie)"
        ) from None
    except RuntimeError as exc:  # pytesseract's timeout
        if "timeout" in str(exc).lower():
            raise ReadingTooLong(deadline.seconds) from None
        raise
    except pytesseract.TesseractError as exc:
        if "vie" in str(exc.message):
            raise OcrUnavailable("máy chủ thiếu dữ liệu tiếng Việt của Tesseract (gói tesseract-ocr-vie)") from None
        raise UnreadableDocument(f"không nhận dạng được chữ trên trang: {exc.message}") from None
    words = []
    for text, conf, left, top, width, height in zip(
        data["text"], data["conf"], data["left"], data["top"], data["width"], data["height"], strict=True
    ):
        if _SPECK.match(text) or float(conf) < 0:
            continue
        word = Word(text.strip(), left, top, left + width, top + height)
        if float(conf) >= MIN_CONFIDENCE:
            words.append(word)
        if doubts is not None and float(conf) < DOUBTFUL:
            doubts.append(word)
    return words


def _long_runs(dark: np.ndarray, length: int) -> np.ndarray:
    """The dark pixels that lie in a horizontal run of at least `length` dark pixels."""
    height, width = dark.shape
    if width < length:
        return np.zeros_like(dark)
    sums = np.zeros((height, width + 1), dtype=np.int32)
    np.cumsum(dark, axis=1, out=sums[:, 1:])
    full = (sums[:, length:] - sums[:, :-length]) == length  # a window of `length` starting here is all dark
    cover = np.zeros((height, width + 1), dtype=np.int32)
    cover[:, : width - length + 1] += full
    cover[:, length:] -= full
    return np.cumsum(cover, axis=1)[:, :width] > 0


def _spans(flags: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in a vector, as (first, last) indices."""
    padded = np.concatenate(([False], flags, [False])).astype(np.int8)
    changes = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(changes[::2], changes[1::2], strict=True)]


def ruled_tables(page: Image.Image) -> tuple[list[list[Box]], Image.Image]:
    """The ruled tables of a scanned page, each as its cells' boxes (pixels), found from the long
    dark lines that draw them (a merged cell: a row where a vertical ruling stops); and the page
    with those rulings whitened, which Tesseract reads better (numbers in narrow ruled cells)."""
    dark = np.asarray(page) < 150
    height, width = dark.shape
    across = _long_runs(dark, max(width // 12, 20))
    down = _long_runs(dark.T, max(height // 60, 20)).T
    rules = [(a, b) for a, b in _spans(across.sum(axis=1) > width // 12)]
    tables: list[list[Box]] = []
    group: list[tuple[int, int, int, int]] = []  # rulings across: top, bottom, x0, x1

    def close() -> None:
        if len(group) >= 2:
            tables.append(_cells(group, down))

    for top, bottom in rules:
        xs = np.flatnonzero(across[top : bottom + 1].any(axis=0))
        ruling = (top, bottom, int(xs[0]), int(xs[-1]))
        if group and (abs(ruling[2] - group[-1][2]) > width * 0.03 or abs(ruling[3] - group[-1][3]) > width * 0.03):
            close()
            group = []
        group.append(ruling)
    close()
    tables = [cells for cells in tables if len(cells) >= 2]
    clean = np.asarray(page).copy()
    clean[across | down] = 255
    return tables, Image.fromarray(clean)


def _cells(rulings: list[tuple[int, int, int, int]], down: np.ndarray) -> list[Box]:
    """The cells between consecutive rulings across: in each band, the vertical rulings that run
    (almost) all its height part it into cells."""
    cells: list[Box] = []
    for upper, lower in zip(rulings, rulings[1:], strict=False):
        top, bottom = upper[1] + 1, lower[0] - 1
        if bottom - top < 8:
            continue
        x0, x1 = min(upper[2], lower[2]), max(upper[3], lower[3])
        cover = down[top : bottom + 1, x0 : x1 + 1].mean(axis=0) >= 0.8
        walls = [x0 + (a + b) / 2 for a, b in _spans(cover)]
        if not walls or walls[0] - x0 > 10:
            walls.insert(0, float(x0))
        if x1 - walls[-1] > 10:
            walls.append(float(x1))
        cells += [(a, float(upper[0]), b, float(lower[1])) for a, b in zip(walls, walls[1:], strict=False)]
    return cells


MAX_CELL_READS = 40  # cells read again on their own, a page (a fraction of a second each)


def _holds(cell: Box, word: Word) -> bool:
    return cell[0] <= (word.x0 + word.x1) / 2 <= cell[2] and cell[1] <= word.middle <= cell[3]


def reread_cells(
    page: Image.Image, tables: list[list[Box]], words: list[Word], doubts: list[Word], deadline: Deadline
) -> list[Word]:
    """The page's words, with the ruled cells it read badly read again each on its own: a cell
    left empty though it holds ink (a lone number under STT, which the page's layout analysis
    misses) and a cell with a word Tesseract doubted ("Phòng [Văn hóa] - Xã hội" with "Văn hóa" at
    confidence 3). On its own, as a block of text, such a cell is read right."""
    pixels = np.asarray(page)
    cells = [cell for cells in tables for cell in cells]
    again = [c for c in cells if any(_holds(c, w) for w in doubts) or not any(_holds(c, w) for w in words)]
    for cell in again[:MAX_CELL_READS]:
        box = (int(cell[0]) + 4, int(cell[1]) + 4, int(cell[2]) - 4, int(cell[3]) - 4)
        if box[2] - box[0] < 8 or box[3] - box[1] < 8 or (pixels[box[1] : box[3], box[0] : box[2]] < 128).sum() < 30:
            continue
        found = [
            Word(w.text, w.x0 + box[0], w.top + box[1], w.x1 + box[0], w.bottom + box[1])
            for w in words_of(page.crop(box), deadline, psm=6)
        ]
        if found:
            words = [w for w in words if not _holds(cell, w)] + found
    return words


def read_page(image: Image.Image, deadline: Deadline, pages: Pages) -> None:
    """One scanned page, straightened, its ruled tables found and their rulings whitened, read by
    OCR: its text laid out with spaces, its tables as rows of cells."""
    page = straighten(ink(image))
    tables, clean = ruled_tables(page)
    doubts: list[Word] = []
    words = reread_cells(clean, tables, words_of(clean, deadline, doubts=doubts), doubts, deadline)
    pages.page(words, tables, width=float(page.size[0]), slack=char_width(words))


def read_image(content: bytes, limits: ReadLimits, progress: Progress | None = None) -> list[Line]:
    """An image file's pages (a TIFF's frames) read by OCR, as numbered lines."""
    images = list(frames(content, limits))
    deadline = Deadline(limits.ocr_seconds)
    pages = Pages()
    for number, image in enumerate(images, 1):
        if progress:
            progress(number, len(images))
        read_page(image, deadline, pages)
    return pages.lines()
