"""The plan importer: a plan officials already have (.docx, or text from a scanned PDF) read into
a draft of a structured plan, with a warning for everything it was unsure of.

Rooms: `lines` (the document as cleaned, numbered lines), `header` (number, issuer, date, title,
period, basis), `tasks` (appendix tables and numbered lists), `duties` (Tổ chức thực hiện and
its reporting duties), `names` (bodies and vocabularies), `draft` (the whole, as JSON)."""

from services.plans.importer.draft import PlanDraft, parse_plan, to_plan_in
from services.plans.importer.lines import UnreadableDocument

__all__ = ["PlanDraft", "UnreadableDocument", "parse_plan", "to_plan_in"]
