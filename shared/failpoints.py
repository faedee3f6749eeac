"""Fail points: named places in the code where a fault-injection test makes this process die on
purpose (SIGKILL, as the kernel's OOM killer or a power cut would), to prove what happens when a
crash falls exactly there — between publishing an event and marking it published, between
sending a mail and recording it, inside a consumer's transaction.

Off unless CCHC_FAILPOINTS_DIR is set (a folder the test owns; never set in a deployment). The
test arms a point by creating a file of its name in that folder; the first process of the
deployment to pass the point takes the file (an atomic rename, so one replica only) and is
killed. A point fires once per arming, so a restarted process carries on.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

POINTS = frozenset(
    {
        "outbox.published",  # the relay: PubAcks received, the rows not yet marked published
        "notify.sent",  # notify: the mail or webhook sent, the delivery not yet recorded
        "consumer.applied",  # a consumer: the event applied in its transaction, not committed
        "consumer.batch_applied",  # the batched consumer: a whole batch applied, not committed
    }
)


def folder() -> Path | None:
    configured = os.environ.get("CCHC_FAILPOINTS_DIR")
    return Path(configured) if configured else None


def hit(name: str) -> None:
    """Die here if a test armed `name` (see the module's docstring); otherwise nothing."""
    where = folder()
    if where is None:
        return
    armed = where / name
    taken = where / f"{name}.taken-{os.getpid()}"
    try:
        armed.rename(taken)  # only one process wins the rename
    except OSError:
        return
    os.kill(os.getpid(), signal.SIGKILL)


def arm(where: Path, name: str) -> None:
    """Arm `name` for the processes whose CCHC_FAILPOINTS_DIR is `where` (tests)."""
    if name not in POINTS:
        raise ValueError(f"unknown fail point {name!r}; known: {', '.join(sorted(POINTS))}")
    (where / name).touch()


def fired(where: Path, name: str) -> int:
    """How many times `name` fired (tests)."""
    return len(list(where.glob(f"{name}.taken-*")))
