"""How much one request may carry: the bounded text types and list sizes every request model
uses, so that an oversized field is refused (422 naming it, before any work starts) and text is
stored clean.

Every bound lies far above what real plans and reports hold (the seeds' longest task title is
about 400 characters, a duty line about 700, the largest plan a few hundred tasks). Text is
cleaned at the edge, once: control characters a Word or Excel file cannot hold are removed
(shared.text.printable) and Vietnamese is put in composed form (NFC), so that "ệ" typed as
e + two combining marks by some keyboards is stored, compared and exported as the one "ệ".
Matching (shared.text.normalize) decomposes anyway, so NFC changes no match.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from fastapi import Request
from pydantic import BeforeValidator, StringConstraints

from shared.errors import FieldProblem, InputError
from shared.text import printable

# text lengths, in characters
CODE = 20  # a unit or body code: "52", "22003-VHXH", "L22003"
REF = 50  # a task's number in its plan: "4.1", "IV.2.a"
SHORT = 200  # a document number, a place, a period, a vocabulary value
NAME = 500  # a unit's, a body's or a person's name; a plan's title
TITLE = 2_000  # a task's title: one sentence or paragraph of the plan
NOTE = 10_000  # a note, a reason, a good model, a line of a duty
LONG = 50_000  # a plan's purpose or budget section, several paragraphs
URL = 2_000

# list sizes
MAX_TASKS = 2_000  # tasks (and heading rows) in one plan
MANY = 500  # units named by one task, recipients, duties, lines of a duty, units merged
FEW = 50  # products of a task, channels, areas, reporting duties of a body


# UTF-16 halves JSON may carry ("\\udabb") that no UTF-8 text, nor PostgreSQL, can hold
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """`text` as it is stored: without control characters, in composed Unicode (NFC)."""
    return unicodedata.normalize("NFC", _SURROGATES.sub("", printable(text)))


def _clean_str(value: Any) -> Any:
    # before the length checks, so that a title of only control characters counts as empty
    return clean(value) if isinstance(value, str) else value


Cleaned = BeforeValidator(_clean_str)
Code = Annotated[str, StringConstraints(strip_whitespace=True, max_length=CODE), Cleaned]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=REF), Cleaned]
ShortText = Annotated[str, StringConstraints(max_length=SHORT), Cleaned]
Name = Annotated[str, StringConstraints(max_length=NAME), Cleaned]
RequiredName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME), Cleaned]
Title = Annotated[str, StringConstraints(max_length=TITLE), Cleaned]
RequiredTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE), Cleaned]
Note = Annotated[str, StringConstraints(max_length=NOTE), Cleaned]
LongText = Annotated[str, StringConstraints(max_length=LONG), Cleaned]


async def storable_parameters(request: Request) -> None:
    """Path and query parameters PostgreSQL can compare with: a NUL character (%00) is refused
    by name (422) before a query is made of it (PostgreSQL text cannot hold one)."""
    problems = [
        FieldProblem(name, "không được chứa ký tự NUL (%00)")
        for name, value in (*request.path_params.items(), *request.query_params.multi_items())
        if "\x00" in str(value)
    ]
    if problems:
        raise InputError(problems)
