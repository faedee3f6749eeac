"""Refusals of the request's shape are said in Vietnamese (shared/validation.py), field by field."""

from __future__ import annotations

import datetime
import uuid
from typing import Literal

import pytest
from pydantic import BaseModel, EmailStr, Field, HttpUrl, ValidationError, field_validator

from shared.validation import vietnamese

pytestmark = pytest.mark.unit


class Form(BaseModel):
    count: int = Field(ge=0)
    number: str = Field(max_length=3)
    status: Literal["done", "in_progress"]
    plan: uuid.UUID
    link: HttpUrl
    due: datetime.date
    files: list[int] = Field(max_length=1)
    email: EmailStr
    code: str

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        raise ValueError("mã đơn vị không có trong danh mục")


def messages(**values: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as refused:
        Form.model_validate(values)
    return {".".join(map(str, e["loc"])): vietnamese(e) for e in refused.value.errors()}  # type: ignore[arg-type]


def test_each_kind_of_refusal_reads_in_vietnamese() -> None:
    said = messages(
        count=-1, number="abcd", status="xong", plan="q", link="ftp://x", due="31/12", files=[1, 2], email="a", code="x"
    )
    assert said == {
        "count": "phải lớn hơn hoặc bằng 0",
        "number": "tối đa 3 ký tự",
        "status": "phải là một trong: 'done', 'in_progress'",
        "plan": "phải là mã UUID hợp lệ",
        "link": "địa chỉ web phải bắt đầu bằng http:// hoặc https://",
        "due": "phải là ngày hợp lệ (yyyy-mm-dd)",
        "files": "tối đa 1 mục",
        "email": "địa chỉ email không hợp lệ",
        "code": "mã đơn vị không có trong danh mục",  # our own words, without "Value error, "
    }


def test_a_missing_field_and_an_unknown_kind_of_error_are_still_said_in_vietnamese() -> None:
    assert messages()["count"] == "bắt buộc phải có"
    assert vietnamese({"type": "something_new", "msg": "Something new"}) == "giá trị không hợp lệ (something_new)"
    assert vietnamese({"type": "greater_than", "msg": "", "ctx": {}}) == "phải lớn hơn"  # no context to fill in
