"""When a periodic report is due.

By default the rule of Decree 09/2019/NĐ-CP: the data of a period is cut off on the 14th of
its last month and the report is due the day after. A plan may set its own rule (another
cut-off day, more days to submit) and stagger deadlines by level, so that a commune's report
reaches the province some days before the province must report in turn. Dates written in a
task ("Trước ngày 30/11/2025") are the plan's own words and are never moved by these rules.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.periods import Period

UnitLevel = Literal["province", "district", "commune", "body", "village"]
LEVEL_LABELS: dict[str, str] = {
    "province": "cấp tỉnh",
    "district": "cấp huyện (trước 01/7/2025)",
    "commune": "cấp xã",
    "body": "cơ quan, đơn vị",
    "village": "thôn, tổ dân phố",
}


class DueRules(BaseModel):
    """Hạn báo cáo định kỳ: ngày chốt số liệu, số ngày sau ngày chốt để gửi báo cáo, và số ngày
    mỗi cấp phải gửi sớm hơn (báo cáo của xã đến trước để tỉnh kịp tổng hợp)."""

    model_config = ConfigDict(extra="forbid")

    cutoff_day: int = Field(default=14, ge=1, le=28, description="ngày chốt số liệu trong tháng cuối kỳ (mặc định 14)")
    days_after_cutoff: int = Field(
        default=1, ge=0, le=60, description="hạn gửi báo cáo: số ngày sau ngày chốt (mặc định 1)"
    )
    earlier_by_level: dict[UnitLevel, Annotated[int, Field(ge=0, le=60)]] = Field(
        default_factory=dict, description='cấp nào gửi sớm hơn bao nhiêu ngày, ví dụ {"commune": 5, "body": 7}'
    )

    def cutoff(self, period: Period) -> tuple[date, date]:
        """The data window of the report for `period` under this rule."""
        return period.cutoff(self.cutoff_day)

    def report_due(self, period: Period, level: str | None = None) -> date:
        """The due date of a unit's report for `period`, before any move to a working day."""
        earlier = next((days for name, days in self.earlier_by_level.items() if name == level), 0)
        return self.cutoff(period)[1] + timedelta(days=self.days_after_cutoff - earlier)
