"""Validation messages in Vietnamese: what pydantic says of a field (in English) said as the
officials read it, from the error's type and its context. Messages our own validators raise are
already Vietnamese and keep their words (without pydantic's "Value error, " before them)."""

from __future__ import annotations

from typing import Any

# pydantic-core error type → message; {name} is taken from the error's context
MESSAGES: dict[str, str] = {
    "missing": "bắt buộc phải có",
    "extra_forbidden": "không có trường này",
    "greater_than": "phải lớn hơn {gt}",
    "greater_than_equal": "phải lớn hơn hoặc bằng {ge}",
    "less_than": "phải nhỏ hơn {lt}",
    "less_than_equal": "phải nhỏ hơn hoặc bằng {le}",
    "multiple_of": "phải là bội số của {multiple_of}",
    "string_too_short": "cần ít nhất {min_length} ký tự",
    "string_too_long": "tối đa {max_length} ký tự",
    "string_pattern_mismatch": "không đúng dạng yêu cầu",
    "string_type": "phải là chuỗi ký tự",
    "too_short": "cần ít nhất {min_length} mục",
    "too_long": "tối đa {max_length} mục",
    "int_type": "phải là số nguyên",
    "int_parsing": "phải là số nguyên",
    "int_from_float": "phải là số nguyên (không có phần thập phân)",
    "float_type": "phải là số",
    "float_parsing": "phải là số",
    "bool_type": "phải là đúng hoặc sai (true/false)",
    "bool_parsing": "phải là đúng hoặc sai (true/false)",
    "literal_error": "phải là một trong: {expected}",
    "enum": "phải là một trong: {expected}",
    "uuid_type": "phải là mã UUID",
    "uuid_parsing": "phải là mã UUID hợp lệ",
    "date_type": "phải là ngày (yyyy-mm-dd)",
    "date_parsing": "phải là ngày hợp lệ (yyyy-mm-dd)",
    "date_from_datetime_parsing": "phải là ngày hợp lệ (yyyy-mm-dd)",
    "datetime_type": "phải là ngày giờ (ISO 8601)",
    "datetime_parsing": "phải là ngày giờ hợp lệ (ISO 8601)",
    "datetime_from_date_parsing": "phải là ngày giờ hợp lệ (ISO 8601)",
    "timezone_aware": "cần ghi rõ múi giờ",
    "time_parsing": "phải là giờ hợp lệ (HH:MM)",
    "time_type": "phải là giờ (HH:MM)",
    "url_parsing": "phải là địa chỉ web hợp lệ",
    "url_type": "phải là địa chỉ web",
    "url_scheme": "địa chỉ web phải bắt đầu bằng {expected_schemes}",
    "url_too_long": "địa chỉ web quá dài",
    "list_type": "phải là danh sách",
    "dict_type": "phải là đối tượng JSON",
    "model_type": "phải là đối tượng JSON",
    "model_attributes_type": "phải là đối tượng JSON",
    "json_invalid": "nội dung không phải JSON hợp lệ",
    "json_type": "phải là JSON",
    "none_required": "phải để trống",
    "frozen_field": "không được thay đổi",
    "union_tag_invalid": "loại không hợp lệ",
    "value_error": "{error}",
    "assertion_error": "{error}",
}
HOW = {"'http' or 'https'": "http:// hoặc https://"}


def vietnamese(error: dict[str, Any]) -> str:
    """The Vietnamese message for one pydantic error (as `errors()` gives it)."""
    kind = error.get("type", "")
    context = {k: HOW.get(str(v), str(v)).replace("' or '", "', '") for k, v in (error.get("ctx") or {}).items()}
    if "email address" in str(error.get("msg", "")):  # email-validator's own words
        return "địa chỉ email không hợp lệ"
    if kind in ("value_error", "assertion_error"):
        message = str(error.get("msg", ""))
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        return message
    template = MESSAGES.get(kind)
    if template is None:
        return f"giá trị không hợp lệ ({kind})"
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return template.split("{")[0].strip() or f"giá trị không hợp lệ ({kind})"
