"""Plan payloads that several integration tests send (the bodies of POST /api/plans)."""

from __future__ import annotations

from typing import Any

# One quarterly task led by every commune of Gia Lai (52).
QUARTERLY_PLAN: dict[str, Any] = {
    "number": "12/KH-UBND",
    "title": "Kế hoạch tuyên truyền cải cách hành chính tỉnh năm 2026",
    "issuer": "52",
    "period": "2026",
    "tasks": [
        {
            "ref": "1",
            "title": "Gửi tin, bài về kết quả cải cách hành chính",
            "lead": ["children"],
            "coordinating": [],
            "timeline": "Định kỳ 01 lần/quý",
            "products": [{"kind": "article", "target": 1}],
        }
    ],
}

# The same task led by one commune only: Xã Vĩnh Sơn (21787).
ONE_COMMUNE_PLAN: dict[str, Any] = {**QUARTERLY_PLAN, "tasks": [{**QUARTERLY_PLAN["tasks"][0], "lead": ["21787"]}]}

# Two quarterly tasks for every commune, each with a content area, channels and products.
AREAS_PLAN: dict[str, Any] = {
    "number": "30/KH-UBND",
    "title": "Kế hoạch tuyên truyền cải cách hành chính năm 2026",
    "issuer": "52",
    "period": "2026",
    "tasks": [
        {
            "ref": "1",
            "title": "Tuyên truyền thủ tục hành chính trên loa truyền thanh và trang thông tin điện tử",
            "lead": ["children"],
            "timeline": "Định kỳ 01 lần/quý",
            "area": "procedures",
            "channels": ["radio", "portal"],
            "products": [{"kind": "broadcast", "target": 3}],
        },
        {
            "ref": "2",
            "title": "Đăng tin về chuyển đổi số trên mạng xã hội",
            "lead": ["children"],
            "timeline": "Định kỳ 01 lần/quý",
            "area": "digital_government",
            "channels": ["social"],
            "products": [{"kind": "social_post", "target": 2}],
        },
    ],
}
