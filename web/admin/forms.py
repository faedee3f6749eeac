"""Reading the forms of the inbox and admin rooms: text fields, ticked boxes, lists of codes, and
the API's refusals of a body's parts (`roles[0]`, `channels[1]`, `quiet_hours.start`) put next to
the form field that holds them."""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.datastructures import FormData

from web.kit import Refusal

ITEM = re.compile(r"\[\d+\]$")


def text(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()


def optional(form: FormData, name: str) -> str | None:
    """The field's text, or None when left blank (the API then applies its default)."""
    return text(form, name) or None


def ticked(form: FormData, name: str) -> list[str]:
    """The values of the boxes ticked under `name`, in the form's order."""
    return [str(value) for value in form.getlist(name)]


def codes(value: str) -> list[str]:
    """Unit codes typed in one field, separated by commas, semicolons or spaces."""
    return [code for code in re.split(r"[\s,;]+", value) if code]


def folded(refusal: Refusal, fields: Mapping[str, str]) -> Refusal:
    """The refusal with each problem at its form field: `fields` maps the API's name of a value
    (or of a list, whose items `name[i]` fold into it) to the form field's name."""
    placed: dict[str, str] = {}
    for name, message in refusal.fields.items():
        target = fields.get(name) or fields.get(ITEM.sub("", name)) or ITEM.sub("", name)
        placed[target] = f"{placed[target]}; {message}" if target in placed else message
    return Refusal(refusal.status, refusal.message, placed)


def refused_status(refusal: Refusal) -> int:
    """The status of a page that shows a refused form again (a 4xx, as the API said)."""
    return refusal.status if 400 <= refusal.status < 500 else 400
