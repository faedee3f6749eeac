"""`cchc dead-letters list|redrive`: the events the services could not apply (the dead-letter
stream, shared/dead_letters.py), listed, and re-driven once the cause is fixed — straight on NATS
as its operator: CCHC_NATS_URL as CCHC_NATS_USER, else the embedded server of a running `cchc up`.
Not `cchc deliveries`, which re-sends notify's e-mails and webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import platformdirs
import typer

from cchc import nats_users
from cchc.client import fail
from shared.clock import VN
from shared.dead_letters import CannotRedrive, DeadLetter, DeadLetters, NoSuchLetter, Redriven, Refused
from shared.events import EVENT_TYPES, FAMILIES
from shared.migrations import SERVICES
from shared.nats_security import redact
from shared.settings import Settings

T = TypeVar("T")

commands = typer.Typer(
    help="Sự kiện các dịch vụ không xử lý được (hàng dead-letter): xem danh sách, và đưa lại vào luồng "
    "sau khi đã sửa nguyên nhân."
)
ServiceOption = Annotated[str | None, typer.Option("--service", help=f"Chỉ của một dịch vụ: {' | '.join(SERVICES)}")]
TypeOption = Annotated[
    str | None,
    typer.Option("--type", help="Chỉ một loại sự kiện (ví dụ progress.reported) hoặc một nhóm (ví dụ progress)"),
]
DataDirOption = Annotated[Path, typer.Option(help="Thư mục dữ liệu của cchc up (khi không đặt CCHC_NATS_URL)")]
DEFAULT_DATA = Path(platformdirs.user_data_dir("cchc"))


def _filters(service: str | None, event_type: str | None) -> None:
    if service is not None and service not in SERVICES:
        raise fail(f"không có dịch vụ {service!r}; chọn một trong: {', '.join(SERVICES)}")
    if event_type is not None and event_type not in EVENT_TYPES and event_type not in FAMILIES:
        raise fail(f"không có loại sự kiện {event_type!r} (ví dụ: progress.reported, hoặc cả nhóm: progress)")


def _run(data_dir: Path, work: Callable[[DeadLetters], Awaitable[T]]) -> T:
    """`work` on the dead-letter stream, connected as the operator; any failure is one line."""
    settings = nats_users.operator_settings(data_dir.expanduser().resolve(), Settings())
    if settings is None:
        raise fail(
            f"không thấy NATS của hệ thống: đặt CCHC_NATS_URL (và CCHC_NATS_USER), hoặc chạy cchc up "
            f"với thư mục dữ liệu {data_dir}"
        )
    where = redact(settings.nats_url or "")

    async def run() -> T:
        try:
            async with DeadLetters.connected(settings) as letters:
                return await work(letters)
        except typer.Exit:
            raise
        except Exception as exc:  # noqa: BLE001 - one line for the operator
            raise fail(f"không làm việc được với NATS {where}: {exc.__class__.__name__}: {exc}") from None

    return asyncio.run(run())


def _when(letter: DeadLetter) -> str:
    return letter.parked_at.astimezone(VN).strftime("%d/%m/%Y %H:%M")


def _as_json(letter: DeadLetter) -> dict[str, Any]:
    return {
        "seq": letter.seq,
        "service": letter.service,
        "subject": letter.subject,
        "event_type": letter.event_type,
        "event_id": letter.event_id,
        "unit": letter.unit,
        "reason": letter.reason,
        "deliveries": letter.deliveries,
        "parked_at": letter.parked_at.isoformat(),
        "data": letter.data.decode("utf-8", errors="replace"),
    }


@commands.command("list")
def list_(
    service: ServiceOption = None,
    event_type: TypeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="In JSON")] = False,
    data_dir: DataDirOption = DEFAULT_DATA,
) -> None:
    """Các sự kiện đang nằm trong hàng dead-letter: số thứ tự, lúc bị đưa vào (giờ Việt Nam), dịch vụ
    không xử lý được, loại sự kiện, đơn vị, số lần đã giao và lý do."""
    _filters(service, event_type)

    async def listed(letters: DeadLetters) -> list[DeadLetter]:
        return await letters.list_(service=service, event_type=event_type)

    found = _run(data_dir, listed)
    if as_json:
        typer.echo(json.dumps([_as_json(letter) for letter in found], ensure_ascii=False, indent=2))
        return
    if not found:
        typer.echo("Không có sự kiện nào trong hàng dead-letter" + (" khớp bộ lọc." if service or event_type else "."))
        return
    typer.echo(f"{'SỐ':>6}  {'LÚC (GIỜ VN)':<16}  {'DỊCH VỤ':<8} {'LOẠI SỰ KIỆN':<22} {'ĐƠN VỊ':<14} LẦN  LÝ DO")
    for letter in found:
        typer.echo(
            f"{letter.seq:>6}  {_when(letter):<16}  {letter.service:<8} {letter.event_type or '?':<22} "
            f"{letter.unit or '?':<14} {letter.deliveries:>3}  {letter.reason[:160]}"
        )
    typer.echo(
        f"Tổng: {len(found)} sự kiện. Sửa nguyên nhân trước, rồi đưa lại: cchc dead-letters redrive SỐ … hoặc --all"
    )


def _sequences(values: list[str]) -> list[int]:
    seqs = []
    for value in values:
        if not value.isdigit() or int(value) == 0:
            raise fail(f"số thứ tự không hợp lệ: {value!r} (số nguyên dương, cột SỐ của cchc dead-letters list)")
        seqs.append(int(value))
    return list(dict.fromkeys(seqs))


@commands.command("redrive")
def redrive(
    seqs: Annotated[list[str] | None, typer.Argument(help="Số thứ tự các sự kiện (cột SỐ của list)")] = None,
    every: Annotated[bool, typer.Option("--all", help="Đưa lại mọi sự kiện (khớp --service, --type)")] = False,
    service: ServiceOption = None,
    event_type: TypeOption = None,
    data_dir: DataDirOption = DEFAULT_DATA,
) -> None:
    """Đưa lại sự kiện vào luồng gốc của nó (sau khi đã sửa nguyên nhân), rồi xóa khỏi hàng dead-letter.
    Mọi dịch vụ nhận loại sự kiện đó đều nhận lại; dịch vụ đã xử lý nó rồi thì bỏ qua."""
    if not seqs and not every:
        raise fail("nêu số thứ tự (SỐ …) hoặc --all")
    if seqs and every:
        raise fail("nêu số thứ tự hoặc --all, không cả hai")
    if seqs and (service or event_type):
        raise fail("--service và --type chỉ dùng cùng --all")
    wanted = _sequences(seqs or [])
    _filters(service, event_type)

    async def redriven(letters: DeadLetters) -> list[Redriven]:
        if every:
            chosen = [letter.seq for letter in await letters.list_(service=service, event_type=event_type)]
        else:
            for seq in wanted:  # every one is checked before any is sent: all or none
                try:
                    await letters.get(seq)
                except NoSuchLetter:
                    raise fail(
                        f"không có sự kiện số {seq} trong hàng dead-letter (đã được đưa lại, hoặc đã quá hạn lưu)"
                    ) from None
            chosen = wanted
        done: list[Redriven] = []
        for seq in chosen:
            try:
                done.append(await letters.redrive(seq))
            except NoSuchLetter:  # re-driven meanwhile by someone else
                continue
            except Refused as exc:
                who = f"người dùng {letters.user!r}" if letters.user else "kết nối ẩn danh"
                raise fail(
                    f"NATS không cho {who} đưa lại sự kiện số {seq} ({exc}); sự kiện vẫn nằm trong hàng dead-letter"
                    + (f"; đã đưa lại {len(done)} sự kiện trước nó" if done else "")
                ) from None
            except CannotRedrive as exc:
                raise fail(
                    f"sự kiện số {seq} không có luồng gốc để đưa lại ({exc}); nó vẫn nằm trong hàng dead-letter"
                ) from None
        return done

    done = _run(data_dir, redriven)
    if not done:
        typer.echo("Không có sự kiện nào để đưa lại.")
        return
    for item in done:
        letter = item.letter
        again = " (JetStream đã có lần đưa lại này: không gửi thêm)" if item.duplicate else ""
        typer.echo(
            f"Đã đưa lại số {letter.seq}: {letter.event_type or letter.subject} của đơn vị {letter.unit or '?'} "
            f"({letter.service} không xử lý được) vào luồng {item.stream}, số {item.seq}{again}."
        )
    typer.echo(f"Đã đưa lại {len(done)} sự kiện và xóa khỏi hàng dead-letter.")
