"""The lived-in corner of province 52 (Gia Lai) that the browser tests act in: its units, an
account per role, and an issued province plan whose tasks every commune carries out. Made through
the public HTTP API with an all-rights token, as another system would."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from shared.clock import VN

PROVINCE = "52"
COMMUNE = "21787"  # a commune of province 52
SIBLING = "21796"  # another commune of the same province
PASSWORD = "mat-khau-thu-2026"
YEAR = datetime.now(VN).year


@dataclass(frozen=True)
class Account:
    username: str
    name: str
    unit: str
    roles: tuple[str, ...]
    password: str = PASSWORD


ACCOUNTS = {
    "province_head": Account("tinh.lanhdao", "Nguyễn Văn Tỉnh", PROVINCE, ("head",)),
    "province_admin": Account("tinh.quantri", "Trần Thị Quản", PROVINCE, ("admin",)),
    "commune_head": Account("xa.chutich", "Lê Văn Xã", COMMUNE, ("head",)),
    "commune_officer": Account("xa.canbo", "Phạm Thị Văn Hóa", COMMUNE, ("officer",)),
    "sibling_officer": Account("xa2.canbo", "Đỗ Văn Bên", SIBLING, ("officer",)),
}


def province_plan(number: str) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"Kế hoạch tuyên truyền cải cách hành chính năm {YEAR}",
        "issuer": PROVINCE,
        "period": str(YEAR),
        "tasks": [
            {
                "ref": "1",
                "title": "Đăng tin, bài về cải cách hành chính trên trang thông tin điện tử",
                "lead": ["children"],
                "coordinating": [],
                "timeline": "Định kỳ 01 lần/quý",
                "products": [{"kind": "article", "target": 2}],
            },
            {
                "ref": "2",
                "title": "Tổ chức hội nghị tuyên truyền cải cách hành chính cho cán bộ, công chức",
                "lead": ["children"],
                "coordinating": [],
                "timeline": "Định kỳ 6 tháng",
                "products": [{"kind": "conference", "target": 1}],
            },
        ],
    }


@dataclass
class World:
    base_url: str
    token: str
    plan_id: str = ""
    accounts: dict[str, Account] = field(default_factory=lambda: dict(ACCOUNTS))

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=60, headers={"Authorization": f"Bearer {self.token}"})


async def build(base_url: str, token: str) -> World:
    world = World(base_url, token)
    async with world.api() as api:
        loaded = await api.post("/api/units/load", json={"provinces": [PROVINCE]})
        assert loaded.status_code == 200, loaded.text
        for account in ACCOUNTS.values():
            made = await api.post(
                "/api/users",
                json={
                    "username": account.username,
                    "name": account.name,
                    "unit": account.unit,
                    "roles": list(account.roles),
                    "password": account.password,
                },
            )
            assert made.status_code in (201, 409), made.text
        created = await api.post("/api/plans", json=province_plan(f"{YEAR % 100}/KH-UBND"))
        assert created.status_code == 201, created.text
        world.plan_id = created.json()["id"]
        issued = await api.post(f"/api/plans/{world.plan_id}/issue")
        assert issued.status_code == 200, issued.text
        for _ in range(200):  # the commune's assignments are made from the event
            found = await api.get("/api/assignments", params={"unit": COMMUNE, "plan": world.plan_id})
            if found.status_code == 200 and found.json().get("items"):
                break
            await asyncio.sleep(0.3)
        else:
            raise AssertionError(f"no assignment for commune {COMMUNE}: {found.text}")
    return world
