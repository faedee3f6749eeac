"""Reading the forms of the inbox and admin rooms: text fields, ticked boxes, lists of codes, and
the status of a page that shows a refused form again."""

from __future__ import annotations

import re

from starlette.datastructures import FormData

from web.kit import Refusal


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


def refused_status(refusal: Refusal) -> int:
    """The status of a page that shows a refused form again (a 4xx, as the API said)."""
    return refusal.status if 400 <= refusal.status < 500 else 400
