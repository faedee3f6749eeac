"""The plan importer: a plan officials already have (.docx, text, a PDF, a scan) read into a draft
of a structured plan, with a warning for everything it was unsure of.

Rooms: `lines` (the document as cleaned, numbered lines, and the warnings about them), `pdf`
(a PDF's pages), `scan` (OCR of scanned pages and images), `pages` and `layout` (a page's words
and ruled tables as lines, as a Word file gives them), `header`
(number, issuer, date, title, period, basis), `table` and `lists` (task rows from an appendix
table or a numbered list), `tasks` (those rows as tasks), `duties` (Tổ chức thực hiện and its
reporting duties), `closing` (recipients, signer), `names` (bodies and vocabularies), `draft`
(the whole, as JSON, and as the body of POST /api/plans)."""

from services.plans.importer.draft import PlanDraft, parse_plan, read_plan, resolve_plan, to_plan_in
from services.plans.importer.lines import UnreadableDocument

__all__ = ["PlanDraft", "UnreadableDocument", "parse_plan", "read_plan", "resolve_plan", "to_plan_in"]
