"""Reading the admin room's own fields: lists of unit codes typed in one field."""

from __future__ import annotations

import re


def codes(value: str) -> list[str]:
    """Unit codes typed in one field, separated by commas, semicolons or spaces."""
    return [code for code in re.split(r"[\s,;]+", value) if code]
