"""Who may do what, said once: roles, the rights they carry, the caller a credential names, and
its scope — the unit subtree it acts in. Pure: no HTTP, no database (shared/auth.py reads the
credential; the services check the unit of what is asked against the caller here).

A caller acts within its unit's subtree: a province user on the whole province, a commune user
on its commune and the bodies inside it, never on a sibling. Heads also review the reports of
their direct children; every user reads what its parent publishes to it (the plan it
implements, the decisions on its reports) — those reads are the services' business."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.errors import Forbidden

EVERYWHERE = "*"  # the scope of a national user (the root of every province)


class Role(StrEnum):
    officer = "officer"
    head = "head"
    auditor = "auditor"
    admin = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.officer: "cán bộ, công chức",
    Role.head: "lãnh đạo đơn vị",
    Role.auditor: "thanh tra",
    Role.admin: "quản trị",
}


class Right(StrEnum):
    read = "read"
    report = "report"
    plan = "plan"
    submit = "submit"
    review = "review"
    manage = "manage"
    admin = "admin"

    @property
    def label(self) -> str:
        return RIGHT_LABELS[self]


RIGHT_LABELS = {
    Right.read: "xem số liệu",
    Right.report: "báo cáo tiến độ, tải minh chứng",
    Right.plan: "lập, ban hành, điều chỉnh kế hoạch",
    Right.submit: "gửi báo cáo định kỳ",
    Right.review: "tiếp nhận, trả lại báo cáo của đơn vị trực thuộc",
    Right.manage: "quản lý cơ quan, đầu mối nhận thông báo, quy tắc nhắc việc",
    Right.admin: "quản trị (người dùng, đơn vị, gửi lại thông báo)",
}

ROLE_RIGHTS: dict[Role, frozenset[Right]] = {
    Role.officer: frozenset({Right.read, Right.report}),
    Role.head: frozenset({Right.read, Right.report, Right.plan, Right.submit, Right.review, Right.manage}),
    Role.auditor: frozenset({Right.read}),
    Role.admin: frozenset({Right.read, Right.admin}),
}


def rights_of(roles: Iterable[Role | str]) -> frozenset[Right]:
    out: set[Right] = set()
    for role in roles:
        out |= ROLE_RIGHTS[Role(role)]
    return frozenset(out)


def within(path: str, scope: str) -> bool:
    """True if the unit at `path` is the unit at `scope` or lies below it. Whole paths are
    compared, segment by segment: `52.21787` is within `52`, `521` is not, and a body
    `48.20000.VHXH` is not within `52.21787.VHXH` although their last codes agree."""
    return scope == EVERYWHERE or path == scope or path.startswith(scope + ".")


def parent_path(path: str) -> str | None:
    head, _, _ = path.rpartition(".")
    return head or None


@dataclass(frozen=True)
class Caller:
    """Whoever the request's credential says: a person (`user:<id>`) or a machine client
    (`token:<id>`), acting as `unit_path` with `rights`."""

    subject: str
    unit_path: str
    rights: frozenset[Right]
    name: str = ""
    roles: tuple[Role, ...] = ()
    kind: str = "user"  # user | token
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def unit_code(self) -> str:
        return self.unit_path.rpartition(".")[2]

    @property
    def national(self) -> bool:
        return self.unit_path == EVERYWHERE

    def covers(self, path: str) -> bool:
        return within(path, self.unit_path)

    def may(self, right: Right, path: str) -> bool:
        if right not in self.rights:
            return False
        if right is Right.review:
            return self.national or parent_path(path) == self.unit_path
        if right is Right.submit:  # a unit submits its own report, not a superior on its behalf
            return self.national or path == self.unit_path
        return self.covers(path)

    def require_right(self, right: Right) -> None:
        """Forbidden (403, naming it) unless the caller holds `right` somewhere."""
        if right not in self.rights:
            raise Forbidden(f"Cần quyền “{right.label}” ({right.value}); tài khoản này không có quyền đó")

    def require(self, right: Right, path: str) -> None:
        """Forbidden (403, naming the right and the unit) unless the caller has `right` on `path`."""
        self.require_right(right)
        if not self.may(right, path):
            if right is Right.review:
                raise Forbidden(
                    f"Chỉ đơn vị cấp trên trực tiếp của {path.rpartition('.')[2]} được "
                    f"{right.label} ({right.value}); tài khoản này thuộc đơn vị {self.unit_code}"
                )
            if right is Right.submit:
                raise Forbidden(
                    f"Chỉ đơn vị {path.rpartition('.')[2]} tự gửi báo cáo định kỳ của mình "
                    f"(quyền “{right.label}”); tài khoản này thuộc đơn vị {self.unit_code}"
                )
            raise Forbidden(
                f"Đơn vị {path.rpartition('.')[2]} nằm ngoài phạm vi của tài khoản (đơn vị {self.unit_code}); "
                f"cần quyền “{right.label}” ({right.value}) trên đơn vị đó"
            )

    def refuse_above(self, code: str) -> None:
        """403 if the unit `code` is one of those above the caller's own (a commune asking for its
        province): known from the caller's path alone, before any lookup."""
        above = self.unit_path.split(".")[:-1] if not self.national else []
        if code in above:
            self.require(Right.read, ".".join(above[: above.index(code) + 1]))

    def scope_for(self, wanted: str | None) -> str:
        """The subtree a list is read for: the one asked (`within=`), which must lie in the
        caller's scope (else 403, not a silently narrower list), or the caller's own."""
        if wanted is None:
            return self.unit_path
        self.require(Right.read, wanted)
        return wanted

    def actor(self) -> dict[str, str]:
        """Who a write is by, as events and the audit log keep it."""
        return {"subject": self.subject, "unit": self.unit_path, "name": self.name}
