"""The progress form as typed: read from the posted form or from the report that counts, turned
into the body of POST /api/assignments/{id}/progress, and the API's refusals put back next to
the fields they are about. Nothing here decides what a report may say: the API does."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from web.kit import Refusal

# the statuses POST /api/assignments/{id}/progress accepts (services.tasks.progress.ProgressIn)
STATUSES = {
    "not_started": "Chưa bắt đầu",
    "in_progress": "Đang thực hiện",
    "done": "Đã hoàn thành",
    "cannot_do": "Không thực hiện được",
}
OTHER_ROWS = 2  # blank rows for product kinds the task did not expect
OUTPUT = "outputs."
# the fields the form shows a refusal next to (besides each "outputs.<kind>")
FIELDS = ["period", "status", "reason", "note", "good_model", "links", "documents", "files", "file"]


@dataclass
class Typed:
    """What the form holds: counts as typed (text, the API reads the numbers), links and
    documents one per line, and the ids of the uploaded files attached to the report."""

    period: str
    status: str = "in_progress"
    outputs: dict[str, str] = field(default_factory=dict)
    note: str = ""
    reason: str = ""
    good_model: str = ""
    links: str = ""
    documents: str = ""
    files: list[str] = field(default_factory=list)

    @classmethod
    def of_form(cls, form: FormData, *, period: str) -> Typed:
        """The posted form; the rows "other kind" are counts like any other."""
        text = {k: str(v).strip() for k, v in form.multi_items() if isinstance(v, str)}
        outputs = {k.removeprefix(OUTPUT): v for k, v in text.items() if k.startswith(OUTPUT) and v}
        kinds, counts = form.getlist("other_kind"), form.getlist("other_count")
        for kind, count in zip(kinds, counts, strict=False):
            if str(kind) and str(count).strip():
                outputs[str(kind)] = str(count).strip()
        return cls(
            period=text.get("period") or period,
            status=text.get("status", ""),
            outputs=outputs,
            note=text.get("note", ""),
            reason=text.get("reason", ""),
            good_model=text.get("good_model", ""),
            links=text.get("links", ""),
            documents=text.get("documents", ""),
            files=[str(v) for v in form.getlist("files")],
        )

    @classmethod
    def of_report(cls, report: Mapping[str, Any] | None, *, period: str) -> Typed:
        """The report that counts, to be corrected (an empty form when there is none yet)."""
        if not report:
            return cls(period=period)
        evidence = report.get("evidence") or []
        return cls(
            period=period,
            status=str(report.get("status") or "in_progress"),
            outputs={k: str(v) for k, v in (report.get("outputs") or {}).items()},
            note=str(report.get("note") or ""),
            reason=str(report.get("reason") or ""),
            good_model=str(report.get("good_model") or ""),
            links="\n".join(str(e["url"]) for e in evidence if e.get("kind") == "link"),
            documents="\n".join(
                f"{e.get('number', '')} {e.get('title', '')}".strip() for e in evidence if e.get("kind") == "document"
            ),
            files=[_file_id(e) for e in evidence if e.get("kind") == "file"],
        )

    def link_lines(self) -> list[str]:
        return _lines(self.links)

    def document_lines(self) -> list[str]:
        return _lines(self.documents)

    def body(self) -> dict[str, Any]:
        """The report as the API takes it: links first, then documents, then files (refused()
        finds a field by that order)."""
        documents = [line.split(maxsplit=1) + [""] for line in self.document_lines()]
        return {
            "period": self.period,
            "status": self.status,
            "outputs": self.outputs,
            "note": self.note,
            "reason": self.reason,
            "good_model": self.good_model,
            "evidence": [{"kind": "link", "url": url} for url in self.link_lines()]
            + [{"kind": "document", "number": number, "title": title} for number, title, *_ in documents]
            + [{"kind": "file", "file_id": file_id} for file_id in self.files],
        }

    def refused(self, refusal: Refusal) -> Refusal:
        """The API's refusal with `evidence[i]…` said at the field that holds item i (links,
        documents, files), naming its line."""
        counts = [
            ("links", len(self.link_lines())),
            ("documents", len(self.document_lines())),
            ("files", len(self.files)),
        ]
        fields: dict[str, str] = {}
        for name, message in refusal.fields.items():
            where = _evidence_field(name, counts)
            fields[where[0]] = "; ".join(filter(None, [fields.get(where[0], ""), where[1] + message]))
        return Refusal(refusal.status, refusal.message, fields)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _file_id(evidence: Mapping[str, Any]) -> str:
    return str(evidence.get("file_id") or str(evidence.get("url", "")).rsplit("/", 1)[-1])


EVIDENCE_ITEM = re.compile(r"^evidence\[(\d+)\]")


def _evidence_field(name: str, counts: Iterable[tuple[str, int]]) -> tuple[str, str]:
    """(form field, "dòng n: ") for the API's field `name`; other names are the form's own."""
    found = EVIDENCE_ITEM.match(name)
    if not found:
        return name, ""
    index = int(found.group(1))
    for field_name, count in counts:
        if index < count:
            return field_name, f"dòng {index + 1}: " if field_name != "files" else ""
        index -= count
    return "evidence", ""
