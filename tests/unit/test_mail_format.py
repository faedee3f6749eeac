"""The email as notify writes it (services/notify/mail.py), read back by Python's own `email`
parser: Vietnamese subjects and names decode exactly, header lines stay within 78 characters,
encoded words within 75, and the bytes are ASCII unless an address needs SMTPUTF8."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr

import pytest

from services.notify.mail import Address, BadAddress, Letterhead, encoded_words

pytestmark = pytest.mark.unit

HEAD = Letterhead.of("Hệ thống CCHC tỉnh Gia Lai <cchc@gialai.gov.vn>")
SUBJECTS = [
    "Sắp đến hạn (còn 7 ngày): Báo cáo kết quả tuyên truyền cải cách hành chính quý IV năm 2026",
    "Nhiệm vụ mới: " + "Tuyên truyền Nghị định 09/2019/NĐ-CP về chế độ báo cáo " * 4,
    'Quá hạn: "Hội nghị" — 1 ngày; Đắk Lắk, Bà Rịa–Vũng Tàu (Ủy ban nhân dân)',
    "Plain ASCII subject that is long enough to be folded over more than one line of the header",
    "A" * 120,  # one ASCII word no line can hold: encoded, then split
    "looks like =?utf-8?q?an_encoded_word?= but is not",
    "Chữ tổ hợp: Hoà vs Hòa, Thủy vs Thuỷ, emoji 📣 và ký tự 𠀀",
    "  nhiều   khoảng   trắng  ",
]
NAMES = [
    "Nguyễn Thị Ánh",
    "Văn phòng UBND xã Ia Hrú, huyện Chư Pưh (bộ phận một cửa)",
    'John "JJ" O\'Brien, Jr.',
    "Plain Name",
    "x" * 90,
    "",
]


def read(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def display_name(raw: bytes, field: str) -> tuple[str, str]:
    """(display name, address) of a mailbox header, decoded as RFC 2047 says: whitespace between
    two encoded words is dropped. (Python 3.11's policy-based parser keeps a space there in a
    display name, also for what its own generator folds: it misreads long names.)"""
    value = message_from_bytes(raw, policy=policy.compat32)[field]
    name, address = parseaddr(" ".join(value.split()))
    return str(make_header(decode_header(name))), address


def header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("name", NAMES)
def test_vietnamese_subjects_and_names_decode_back_exactly_within_the_line_limits(subject: str, name: str) -> None:
    raw = HEAD.letter(
        to_name=name, to=Address.of("can-bo@vinhson.gialai.gov.vn"), subject=subject, text="Kính gửi.\n", key="k:1"
    )
    raw.decode("ascii")  # 7-bit headers and a base64 body
    assert all(len(line) <= 78 for line in header_lines(raw)), [line for line in header_lines(raw) if len(line) > 78]
    assert all(len(word) <= 75 for word in re.findall(rb"=\?utf-8\?b\?[^?]*\?=", raw))
    mail = read(raw)
    assert str(mail["Subject"]) == " ".join(subject.split())
    assert display_name(raw, "To") == (" ".join(name.split()), "can-bo@vinhson.gialai.gov.vn")
    assert display_name(raw, "From") == ("Hệ thống CCHC tỉnh Gia Lai", "cchc@gialai.gov.vn")
    assert mail["To"].addresses[0].addr_spec == "can-bo@vinhson.gialai.gov.vn"
    assert not mail.defects and not any(mail[h].defects for h in ("Subject", "To", "From"))


def test_encoded_words_never_split_a_character() -> None:
    text = "ệ" * 40 + "𠀀" * 20  # 3- and 4-byte UTF-8 characters
    words = encoded_words(text, 30)
    assert len(words[0]) <= 30 and all(len(w) <= 75 for w in words)
    assert "".join(str(read(f"Subject: {w}\r\n\r\n".encode())["Subject"]) for w in words) == text


def test_the_body_and_the_ids_are_those_of_the_delivery() -> None:
    text = "Kính gửi Nguyễn Thị Ánh,\n\n" + "Nhiệm vụ rất dài " * 20 + "\n\n.dòng bắt đầu bằng dấu chấm\n"
    at = datetime(2026, 12, 7, 3, 4, 5, tzinfo=UTC)
    raw = HEAD.letter(
        to_name="Ánh", to=Address.of("anh@gialai.gov.vn"), subject="Nhắc", text=text, key="e:c:email", at=at
    )
    mail = read(raw)
    assert mail.get_content() == text
    assert mail["Content-Transfer-Encoding"] == "base64" and mail.get_content_charset() == "utf-8"
    digest = HEAD.message_id("e:c:email")
    assert mail["Message-ID"] == f"<{digest}@gialai.gov.vn>" and mail["X-CCHC-Idempotency-Key"] == digest
    assert HEAD.message_id("e:c:email") == digest != HEAD.message_id("e:c:webhook")  # stable, per delivery
    assert mail["Date"].datetime == at
    ascii_only = read(HEAD.letter(to_name="A", to=Address.of("a@b.vn"), subject="S", text="Hello\n", key="k"))
    assert ascii_only["Content-Transfer-Encoding"] == "7bit" and ascii_only.get_content() == "Hello\r\n"  # as sent


def test_addresses_go_in_the_envelope_as_ascii_or_ask_for_smtputf8() -> None:
    assert Address.of("vp@gialai.gov.vn") == Address("vp@gialai.gov.vn", "vp@gialai.gov.vn", utf8=False)
    idn = Address.of("vp@xã.vn")
    assert idn.envelope == "vp@xn--x-yfa.vn" and not idn.utf8
    assert Address.of("nguyễn@gialai.gov.vn").utf8
    for bad in ("no-at-sign", "a b@c.vn", "<a@b.vn>", "a@", "@b.vn", "a@b.vn\r\nBcc: x@y.vn"):
        with pytest.raises(BadAddress):
            Address.of(bad)
