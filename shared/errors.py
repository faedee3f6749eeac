"""Errors the HTTP edge turns into 4xx responses that name the field at fault."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FieldProblem:
    field: str  # e.g. "tasks[0].timeline"
    message: str


class InputError(Exception):
    """Input that cannot be understood: 422 (or `status`, e.g. 413 for a file too large, 415 for a
    type not accepted), every problem named by its field."""

    def __init__(self, problems: list[FieldProblem], *, status: int = 422) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems
        self.status = status


class NotFound(Exception):
    """404: the thing named does not exist."""


class Conflict(Exception):
    """409: the request contradicts the current state (e.g. issuing an issued plan)."""


class Forbidden(Exception):
    """403: the caller may not act on this (e.g. reporting for another unit's assignment)."""


class TooManyRequests(Exception):
    """429: asked too often (e.g. failed logins); try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
