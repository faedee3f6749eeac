"""How a dead letter is read and named for its re-drive (shared/dead_letters.py, pure parts): the
service, event type and unit come from its subjects, the reason and deliveries from its headers;
a filter by service or by event type is a subject filter; a re-drive goes out under a message id
that is never the event's own (JetStream would drop it as a duplicate within its window)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from nats.js.api import RawStreamMsg

from shared.dead_letters import DeadLetter, filter_subject, read, redrive_id

pytestmark = pytest.mark.unit

AT = datetime(2026, 2, 10, 1, 0, tzinfo=UTC)
EVENT_ID = uuid.uuid4()
BODY = json.dumps({"id": str(EVENT_ID), "type": "progress.reported"}).encode()


def _raw(seq: int, subject: str, headers: dict[str, str] | None, data: bytes = BODY) -> RawStreamMsg:
    return RawStreamMsg(subject=subject, seq=seq, data=data, headers=headers, time=AT)


def _letter(seq: int = 7, data: bytes = BODY) -> DeadLetter:
    headers = {
        "Cchc-Original-Subject": "cchc.progress.reported.52.21787",
        "Cchc-Error": "bad progress.reported payload: status",
        "Cchc-Deliveries": "1",
    }
    return read(_raw(seq, "cchc.dlq.reports.cchc.progress.reported.52.21787", headers, data), prefix="cchc")


def test_a_letter_says_which_service_parked_which_event_of_which_unit_why_and_when() -> None:
    letter = _letter()
    assert (letter.seq, letter.service, letter.subject) == (7, "reports", "cchc.progress.reported.52.21787")
    assert (letter.event_type, letter.family, letter.unit) == ("progress.reported", "progress", "52.21787")
    assert (letter.reason, letter.deliveries, letter.parked_at) == ("bad progress.reported payload: status", 1, AT)
    assert letter.event_id == str(EVENT_ID)


def test_a_letter_whose_bytes_are_no_envelope_or_whose_subject_is_no_event_is_still_listed() -> None:
    letter = read(_raw(3, "cchc.dlq.notify.x", None, b"{not json"), prefix="cchc")
    assert (letter.service, letter.subject, letter.event_type, letter.unit) == ("notify", "x", "", "")
    assert (letter.event_id, letter.deliveries, letter.reason) == (None, 0, "")


def test_letters_are_filtered_by_service_and_by_event_type_or_family_on_their_subject() -> None:
    assert filter_subject("cchc") == "cchc.dlq.*.>"
    assert filter_subject("cchc", service="tasks") == "cchc.dlq.tasks.>"
    assert filter_subject("cchc", event_type="progress.reported") == "cchc.dlq.*.cchc.progress.reported.>"
    assert filter_subject("cchc", service="notify", event_type="report") == "cchc.dlq.notify.cchc.report.>"


def test_a_redrive_goes_out_under_its_own_message_id_the_same_for_a_retry_and_new_for_each_letter() -> None:
    letter = _letter()
    assert str(EVENT_ID) not in redrive_id(letter)
    assert redrive_id(letter) == redrive_id(_letter())  # a retry of the same re-drive: JetStream drops it
    assert redrive_id(letter) != redrive_id(_letter(seq=8))  # parked again later: a new letter, sent again
    assert redrive_id(letter) != redrive_id(_letter(data=BODY + b" "))
