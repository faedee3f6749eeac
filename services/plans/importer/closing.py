"""The end of a plan: who receives it ("Nơi nhận: - …;") and who signed it (the name under
"TM. ỦY BAN NHÂN DÂN / KT. CHỦ TỊCH / PHÓ CHỦ TỊCH")."""

from __future__ import annotations

from dataclasses import dataclass

from services.plans.importer.lines import Line, is_signature_title, looks_like_a_name


@dataclass
class Signature:
    name: str
    title: str


def read_recipients(lines: list[Line]) -> list[str]:
    start = next((i for i, line in enumerate(lines) if line.norm.startswith("noi nhan")), None)
    if start is None:
        return []
    found = []
    for line in lines[start + 1 :]:
        if line.cells is not None or is_signature_title(line) or not line.text.startswith(("-", "+", "•")):
            break
        found.append(line.text.lstrip("-+• ").rstrip(" ;.,"))
    return found


def read_signature(lines: list[Line]) -> Signature | None:
    """The signer's name under the last signature title of the body (before any appendix)."""
    titles = [i for i, line in enumerate(lines) if is_signature_title(line)]
    if not titles:
        return None
    last = titles[0]
    while last + 1 < len(lines) and is_signature_title(lines[last + 1]):
        last += 1
    for line in lines[last + 1 : last + 4]:
        if looks_like_a_name(line.text):
            title = lines[last].text.strip().lower().replace("chủ tịch", "Chủ tịch")
            return Signature(name=line.text.strip(), title=title[:1].upper() + title[1:])
    return None
