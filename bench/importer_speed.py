"""Benchmark: how fast the plan importer reads a plan, and how its time grows with the document
(not a timed test; nothing is started, nothing is stored).

  files     every real plan in /work/shared/seeds and every fixture under tests/fixtures/plans
            (.txt and .docx): parse time, file size, tasks found
  scaling   generated documents of growing size, in the shapes of the seeds:
              table  a plan whose appendix is a tab-separated table (as seed 001: group rows with
                     sub-rows x.1-x.9, one sub-row carrying a merged cell, the header repeated after
                     each page break, a page number, a row continued across the break)
              docx   a .docx plan whose appendix is a real Word table (python-docx): the group
                     rows' title merged across the row, coordinating/timeline/product merged down
                     the sub-rows, a lead of two bodies on two paragraphs
              body   a plain-text plan (as seed 002) whose content sections are repeated up to the
                     size: paragraphs hard-wrapped as PDF text is (blank lines and page numbers in
                     the middle of sentences), and now and then a line with a long run of spaces
            ms per row / per MB at each size, and k in time ∝ size^k between sizes (1 = linear)
  cli       `python -m cchc.cli plans parse SEED --format json` once, process start included

Each parse is `parse_plan(content, name).as_json()` on bytes already in memory, timed with
perf_counter after one warm-up parse (module imports, compiled patterns); min and median of
--runs runs. The generated text is our own wording (no seed text); the same every run.

    .venv/bin/python bench/importer_speed.py [--runs N] [--profile table|docx|body]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import pstats
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.plans.importer import parse_plan  # noqa: E402

SEEDS = Path("/work/shared/seeds")
FIXTURES = ROOT / "tests" / "fixtures" / "plans"

TABLE_ROWS = (100, 1_000, 5_000)
DOCX_ROWS = (100, 1_000, 2_000)
BODY_BYTES = (100_000, 1_000_000, 5_000_000)


# ---------------------------------------------------------------- timing


def timed(content: bytes, name: str, runs: int) -> tuple[list[float], dict]:
    """Milliseconds of each run, and the draft (as JSON) of the last."""
    times, data = [], {}
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        data = parse_plan(content, name).as_json()
        times.append((time.perf_counter() - start) * 1000)
    return times, data


def ms(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))
    print()


# ---------------------------------------------------------------- invented plan text

PLACE, COMMUNE, PROVINCE = "Ia Mơr", "xã Ia Mơr", "Gia Lai"
BODIES = [
    "Phòng Văn hóa - Xã hội",
    "Văn phòng HĐND và UBND",
    "Phòng Kinh tế",
    "Trung tâm Phục vụ hành chính công",
    "Trung tâm Cung ứng dịch vụ sự nghiệp công",
    "Công an xã",
]
COORDINATING = ["Các cơ quan, đơn vị liên quan", "Các thôn, làng", "Các cơ quan, đơn vị liên quan; các thôn, làng"]
TIMELINES = [
    "Thường xuyên",
    "Định kỳ 01 lần/quý",
    "Quý II năm 2026",
    "Tháng 9/2026",
    "Trước ngày 30/11/2026",
    "Hằng tháng",
    "Quý IV/2026",
]
PRODUCTS = ["Tin, bài", "Phóng sự, video clip, tin ngắn", "Pano, áp phích, băng rôn", "Báo cáo", "Kế hoạch"]
VERBS = [
    "Tuyên truyền",
    "Đưa tin, bài viết về",
    "Tổ chức hội nghị phổ biến",
    "Cập nhật trên Trang thông tin điện tử xã",
]
SUBJECTS = [
    "cải cách thể chế và công tác xây dựng, kiểm tra văn bản quy phạm pháp luật",
    "cải cách thủ tục hành chính, cơ chế một cửa, một cửa liên thông",
    "xây dựng Chính quyền số và chuyển đổi số ở cơ sở",
    "cải cách tài chính công và quản lý ngân sách xã",
    "cải cách chế độ công vụ, kỷ luật, kỷ cương hành chính",
    "kết quả Chỉ số hài lòng của người dân (SIPAS) và Chỉ số CCHC",
    "dịch vụ công trực tuyến và thanh toán không dùng tiền mặt",
]
HEADER = ["TT", "Nhiệm vụ", "Cơ quan chủ trì", "Cơ quan phối hợp", "Thời gian thực hiện", "Sản phẩm"]


def preamble(period: str = "2026") -> list[str]:
    return [
        "ỦY BAN NHÂN DÂN\tCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        f"XÃ {PLACE.upper()}\tĐộc lập - Tự do - Hạnh phúc",
        "",
        "Số: 15/KH-UBND",
        "",
        f"{PLACE}, ngày 06 tháng 3 năm {period}",
        "",
        "KẾ HOẠCH",
        f"Tuyên truyền cải cách hành chính {COMMUNE} năm {period}",
        "",
        f"Thực hiện Kế hoạch số 140/KH-UBND ngày 30/12/2025 của UBND tỉnh {PROVINCE} về tuyên truyền cải cách "
        f"hành chính năm {period}, UBND xã ban hành Kế hoạch tuyên truyền như sau:",
        "",
        "I. MỤC ĐÍCH, YÊU CẦU",
        "",
        "1. Nâng cao nhận thức của cán bộ, công chức và người dân về cải cách hành chính.",
        "",
        "2. Tuyên truyền kịp thời, đúng trọng tâm, phù hợp với từng đối tượng.",
        "",
    ]


def closing(period: str = "2026") -> list[str]:
    lines = ["", "IV. TỔ CHỨC THỰC HIỆN", ""]
    for number, body in enumerate(BODIES[:4], 1):
        lines += [
            f"{number}. {body}",
            "",
            "- Chủ trì triển khai các nhiệm vụ được giao tại Phụ lục kèm theo Kế hoạch này.",
            "- Định kỳ hằng quý báo cáo kết quả về UBND xã trước ngày 15 của tháng cuối quý.",
            "",
        ]
    return lines + [
        "Nơi nhận:",
        "- UBND tỉnh;",
        "- Lưu: VT.",
        "",
        "TM. ỦY BAN NHÂN DÂN",
        "CHỦ TỊCH",
        "",
        "Nguyễn Văn Bình",
        "",
    ]


def merged_group(top: int) -> bool:
    """Every other group row (2, 6, 10 …) has its last three columns merged over its sub-rows."""
    return top // 2 % 2 == 1


def table_rows(count: int, rng: random.Random) -> list[list[str] | None]:
    """`count` task rows: blocks of one plain task and a group row with nine sub-rows (so the
    numbering stays under 1,000, the importer's limit); in every other group only the fifth
    sub-row carries coordinating, timeline and product (a merged cell, as a text copy keeps it).
    `None` marks a page break (every 25 rows)."""
    rows: list[list[str] | None] = []
    top = 0
    emitted = 0

    def plain(ref: str, title: str) -> list[str]:
        lead = rng.choice(BODIES) if rng.random() < 0.8 else f"{rng.choice(BODIES)}; {rng.choice(BODIES)}"
        return [ref, title, lead, rng.choice(COORDINATING), rng.choice(TIMELINES), rng.choice(PRODUCTS)]

    while emitted < count:
        top += 1
        block: list[list[str]] = [plain(str(top), f"{rng.choice(VERBS)} {rng.choice(SUBJECTS)}.")]
        top += 1
        block.append(
            [str(top), "Gửi tin, bài về kết quả cải cách hành chính theo lĩnh vực", "Các cơ quan, đơn vị", "", "", ""]
        )
        merged = merged_group(top)
        for sub in range(1, 10):
            row = plain(f"{top}.{sub}", f"Về nội dung {rng.choice(SUBJECTS)}")
            if merged and sub != 5:
                row[3:] = ["", "", ""]
            block.append(row)
        for row in block:
            if emitted == count:
                break
            rows.append(row)
            emitted += 1
            if emitted % 25 == 0 and emitted < count:
                rows.append(None)
    return rows


def text_table_plan(count: int) -> bytes:
    rng = random.Random(count)
    lines = preamble()
    lines += [
        "II. NỘI DUNG",
        "",
        "Các nhiệm vụ cụ thể tại Phụ lục kèm theo.",
        "",
        "III. KINH PHÍ",
        "",
        "Từ nguồn ngân sách xã năm 2026.",
        "",
    ]
    lines += closing()
    lines += [
        "PHỤ LỤC",
        f"Danh mục hoạt động tuyên truyền cải cách hành chính {COMMUNE} năm 2026",
        "(Kèm theo Kế hoạch số 15/KH-UBND ngày 06/3/2026 của UBND xã)",
        "",
        "\t".join(HEADER),
    ]
    page = 1
    continued = False
    for row in table_rows(count, rng):
        if row is None:  # a page break: blank, the page number, the header again
            page += 1
            lines += ["", str(page), "", "\t".join(HEADER)]
            continued = page % 3 == 0  # every third page, the next row goes on from the last
            continue
        if continued:
            lines.append("\t(tiếp theo)\t\t\t\t")
            continued = False
        lines.append("\t".join(row))
    return ("\n".join(lines) + "\n").encode()


def docx_plan(count: int) -> bytes:
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rng = random.Random(count)
    doc = Document()
    head = doc.add_table(rows=2, cols=2)  # the borderless header block, as a real plan has it
    head.cell(0, 0).text, head.cell(0, 1).text = (
        "ỦY BAN NHÂN DÂN\nXÃ " + PLACE.upper(),
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc",
    )
    head.cell(1, 0).text, head.cell(1, 1).text = "Số: 15/KH-UBND", f"{PLACE}, ngày 06 tháng 3 năm 2026"
    for text in preamble()[7:] + ["II. NỘI DUNG", "Các nhiệm vụ cụ thể tại Phụ lục kèm theo."] + closing():
        if text:
            doc.add_paragraph(text)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.add_paragraph("PHỤ LỤC")
    doc.add_paragraph("(Kèm theo Kế hoạch số 15/KH-UBND ngày 06/3/2026 của UBND xã)")
    table = doc.add_table(rows=1, cols=len(HEADER))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, HEADER, strict=True):
        cell.text = text
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    table.rows[0]._tr.get_or_add_trPr().append(flag)
    for row in table_rows(count, rng):
        if row is None:
            continue
        tr = table.add_row()._tr
        tcs = list(tr.tc_lst)
        ref = row[0]
        if row[2] == "Các cơ quan, đơn vị" and not row[3]:  # a group row: title merged across the row
            for tc in tcs[2:]:
                tr.remove(tc)
            tcs[1].grid_span = len(HEADER) - 1
            values = row[:2]
        else:
            values = row
        for tc, text in zip(tcs, values, strict=False):
            parts = text.split("; ") if tc is tcs[2] and "; " in text and rng.random() < 0.5 else [text]
            tc.clear_content()
            for part in parts:  # two bodies on two paragraphs of one cell, now and then
                tc.add_p().add_r().text = part
        if "." in ref:
            sub = int(ref.rsplit(".", 1)[1])
            if merged_group(int(ref.split(".")[0])):  # a group whose last columns are merged down its sub-rows
                if sub == 1:
                    shared = [rng.choice(COORDINATING), rng.choice(TIMELINES), rng.choice(PRODUCTS)]
                    for tc, text in zip(tcs[3:], shared, strict=True):
                        tc.clear_content()
                        tc.add_p().add_r().text = text
                        tc.vMerge = "restart"
                else:
                    for tc in tcs[3:]:
                        tc.clear_content()
                        tc.add_p()
                        tc.vMerge = "continue"
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


WORDS = (
    "cải cách hành chính nâng cao chất lượng phục vụ người dân doanh nghiệp thủ tục một cửa liên thông "
    "chuyển đổi số chính quyền điện tử dịch vụ công trực tuyến cán bộ công chức viên chức trách nhiệm người "
    "đứng đầu tuyên truyền phổ biến kịp thời đầy đủ thường xuyên các thôn làng tổ dân phố hiệu quả thiết thực "
    "công khai minh bạch kỷ luật kỷ cương ngân sách đầu tư kinh doanh môi trường phản biện giám sát xã hội"
).split()


def body_plan(size: int) -> bytes:
    """A plan with no appendix whose content sections are repeated up to `size` bytes, laid out
    as PDF text: every paragraph hard-wrapped at about 90 characters with a trailing space,
    a blank line after the first line of some paragraphs, a page number inside a sentence every
    50 lines, and every 200 lines a line with a run of 500-5,000 spaces (a justified line or two
    columns read side by side)."""
    rng = random.Random(size)
    out = io.StringIO()
    out.write("\n".join(preamble()) + "\n")
    written, lines, page, section = out.tell(), 0, 1, 0
    while written < size:
        section += 1
        heading = f"II.{section}. NỘI DUNG TUYÊN TRUYỀN ĐỢT {section}" if section > 1 else "II. NỘI DUNG VÀ HÌNH THỨC"
        chunk = [heading]
        for item in range(1, 9):
            words = [rng.choice(WORDS) for _ in range(rng.randint(30, 120))]
            text = f"- {words[0].capitalize()} " + " ".join(words[1:]) + "."
            wrapped, current = [], ""
            for word in text.split(" "):
                if len(current) + len(word) > 88:
                    wrapped.append(current + " ")
                    current = word
                else:
                    current = f"{current} {word}" if current else word
            wrapped.append(current)
            if len(wrapped) > 2 and item % 3 == 0:
                wrapped.insert(1, "")  # the blank line pdftotext leaves inside a paragraph
            for line in wrapped:
                lines += 1
                if lines % 50 == 0:
                    page += 1
                    chunk += ["", "", str(page), ""]
                if lines % 200 == 0:
                    line = line.rstrip() + " " * rng.randint(500, 5_000) + "tuyên truyền"
                chunk.append(line)
        text = "\n".join(chunk) + "\n\n"
        out.write(text)
        written += len(text.encode())
    out.write("\n".join(closing()) + "\n")
    return out.getvalue().encode()


# ---------------------------------------------------------------- the three parts


def files(runs: int) -> None:
    paths = sorted(SEEDS.glob("*.txt")) + sorted(
        p for p in FIXTURES.rglob("*") if p.suffix in (".txt", ".docx") and p.is_file()
    )
    rows = []
    for path in paths:
        content = path.read_bytes()
        times, data = timed(content, path.name, runs)
        label = f"seed {path.name}" if path.parent == SEEDS else str(path.relative_to(FIXTURES))
        rows.append([label, f"{len(content):,}", str(len(data["tasks"])), ms(min(times)), ms(statistics.median(times))])
    print(f"1. Real plans and fixtures ({runs} runs each)\n")
    print_table(["file", "bytes", "tasks", "min ms", "median ms"], rows)


def growth(sizes: list[float], medians: list[float]) -> str:
    """The exponent k in time ∝ size^k between consecutive sizes (1: linear, 2: quadratic); the
    last step, least blurred by the fixed cost of every plan (~50-100 ms), gives the verdict."""
    steps = [
        math.log(t2 / t1) / math.log(n2 / n1)
        for n1, n2, t1, t2 in zip(sizes, sizes[1:], medians, medians[1:], strict=False)
    ]
    last = steps[-1]
    verdict = "linear" if last <= 1.1 else "near-linear, a small super-linear term" if last <= 1.3 else "SUPER-LINEAR"
    return "k = " + " then ".join(f"{k:.2f}" for k in steps) + f": {verdict}"


def scaling(runs: int) -> None:
    cases: list[tuple[str, str, Callable[[int], bytes], tuple[int, ...], str]] = [
        ("table", "plan.txt", text_table_plan, TABLE_ROWS, "row"),
        ("docx", "plan.docx", docx_plan, DOCX_ROWS, "row"),
        ("body", "plan.txt", body_plan, BODY_BYTES, "MB"),
    ]
    print(f"2. Scaling: generated plans ({runs} runs each)\n")
    rows, verdicts = [], []
    for kind, name, make, sizes, unit in cases:
        measured, medians = [], []
        for size in sizes:
            start = time.perf_counter()
            content = make(size)
            built = time.perf_counter() - start
            times, data = timed(content, name, runs)
            median = statistics.median(times)
            tasks = len(data["tasks"])
            units = size if unit == "row" else len(content) / 1e6
            measured.append(units)
            medians.append(median)
            label = f"{kind} {size:,} rows" if unit == "row" else f"{kind} {len(content) / 1e6:.1f} MB"
            check = "" if unit == "MB" or tasks == size else f"  (!) {tasks} tasks read of {size}"
            per_unit = f"{median / units:.2f} ms/row" if unit == "row" else f"{median / units:,.0f} ms/MB"
            rows.append(
                [label, f"{len(content):,}", str(tasks), ms(min(times)), ms(median), per_unit, f"{built:.1f} s{check}"]
            )
        verdicts.append(f"{kind}: {growth(measured, medians)}")
    print_table(["case", "bytes", "tasks", "min ms", "median ms", "per unit (median)", "generated in"], rows)
    print("  growth, time ∝ size^k between consecutive sizes:")
    for verdict in verdicts:
        print("  " + verdict)
    print()


def cli() -> None:
    seed = sorted(SEEDS.glob("*.txt"))[0]
    command = [sys.executable, "-m", "cchc.cli", "plans", "parse", str(seed), "--format", "json"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        print(f"3. CLI: exit {done.returncode}: {done.stderr.decode()[-500:]}")
        return
    tasks = len(json.loads(done.stdout)["tasks"])
    print("3. CLI end to end, once (process start, imports, parse, JSON out)\n")
    print_table(
        ["command", "tasks", "wall ms"], [[f"cchc plans parse {seed.name} --format json", str(tasks), ms(elapsed)]]
    )


def profile(kind: str) -> None:
    content, name = {
        "table": lambda: (text_table_plan(TABLE_ROWS[-1]), "plan.txt"),
        "docx": lambda: (docx_plan(DOCX_ROWS[-1]), "plan.docx"),
        "body": lambda: (body_plan(BODY_BYTES[-1]), "plan.txt"),
    }[kind]()
    profiler = cProfile.Profile()
    profiler.enable()
    parse_plan(content, name).as_json()
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    print(f"cProfile of the largest {kind} case ({len(content):,} bytes)\n")
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each parse (default 3)")
    parser.add_argument(
        "--profile", choices=("table", "docx", "body"), help="profile the largest case of one kind instead"
    )
    args = parser.parse_args()
    seed = sorted(SEEDS.glob("*.txt"))[0]
    parse_plan(seed.read_bytes(), seed.name)  # warm-up: imports, compiled patterns, body names
    if args.profile:
        profile(args.profile)
        return
    start = time.perf_counter()
    files(args.runs)
    scaling(args.runs)
    cli()
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
