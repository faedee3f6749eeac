"""Vietnamese messages rendered from Jinja2 templates.

The templates ship in `templates/`; an operator may put their own in CCHC_TEMPLATES_DIR (same
file names). Every template is checked when the service starts: a variable that no message
provides is an error naming the file and the variable, not a blank in a letter to a commune.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateError, meta

BUILT_IN = Path(__file__).parent / "templates"
# What each kind of message offers its templates.
TASK_VARIABLES = frozenset(
    {
        "unit_name",
        "unit_code",
        "task_ref",
        "task_title",
        "plan_id",
        "plan_number",
        "period",
        "due",
        "due_iso",
        "days_left",
        "days_late",
        "link",
        "plan_link",
        "role",
    }
)
REPORT_VARIABLES = frozenset(
    {"unit_name", "unit_code", "period", "version", "reviewer_name", "reason", "decided_on", "link"}
)
DIGEST_VARIABLES = frozenset({"unit_name", "unit_code", "date", "plans", "counts", "total", "link"})
VARIABLES = {
    "assigned": TASK_VARIABLES,
    "changed": TASK_VARIABLES,
    "due_soon": TASK_VARIABLES,
    "overdue": TASK_VARIABLES,
    "escalated": TASK_VARIABLES,
    "report_accepted": REPORT_VARIABLES,
    "report_returned": REPORT_VARIABLES,
    "digest": DIGEST_VARIABLES,
}
KINDS = tuple(VARIABLES)
EMAIL_VARIABLES = frozenset({"contact_name", "title", "body", "link", "unit_name"})


class TemplateProblem(ValueError):
    """A template that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str


class Templates:
    def __init__(self, directory: str | None = None) -> None:
        loaders = [FileSystemLoader(directory)] if directory else []
        self.env = Environment(
            loader=ChoiceLoader([*loaders, FileSystemLoader(BUILT_IN)]),
            undefined=StrictUndefined,
            autoescape=False,  # plain text: email bodies and in-app text
            keep_trailing_newline=False,
        )
        self.check()

    def check(self) -> None:
        """Parse every template and refuse variables nobody provides."""
        wanted = {f"{k}.{part}.j2": VARIABLES[k] for k in KINDS for part in ("subject", "txt")}
        wanted["email.txt.j2"] = EMAIL_VARIABLES
        problems = []
        for name, allowed in wanted.items():
            try:
                source, filename, _ = self.env.loader.get_source(self.env, name)  # type: ignore[union-attr]
                unknown = meta.find_undeclared_variables(self.env.parse(source)) - allowed
            except TemplateError as exc:
                problems.append(f"{name}: {exc}")
                continue
            if unknown:
                problems.append(
                    f"{filename}: biến không có trong thông báo: {', '.join(sorted(unknown))} "
                    f"(dùng được: {', '.join(sorted(allowed))})"
                )
        if problems:
            raise TemplateProblem("mẫu thông báo không dùng được — " + "; ".join(problems))

    def message(self, kind: str, context: dict[str, Any]) -> Rendered:
        title = self.env.get_template(f"{kind}.subject.j2").render(context).strip()
        body = self.env.get_template(f"{kind}.txt.j2").render(context).strip()
        return Rendered(title=" ".join(title.split()), body=body)

    def email(self, context: dict[str, Any]) -> str:
        return self.env.get_template("email.txt.j2").render(context).strip() + "\n"
