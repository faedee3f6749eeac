"""The fixed vocabulary of communication products (sản phẩm tuyên truyền), with Vietnamese labels."""

from __future__ import annotations

PRODUCT_KINDS: dict[str, str] = {
    "article": "Bài viết",
    "news": "Tin",
    "broadcast": "Chương trình phát thanh, truyền thanh",
    "reportage": "Phóng sự",
    "video": "Video clip",
    "infographic": "Infographic",
    "column": "Chuyên mục",
    "poster": "Pano, áp phích, băng rôn",
    "leaflet": "Tờ rơi",
    "conference": "Hội nghị",
    "training": "Lớp tập huấn",
    "participants": "Lượt người tham dự",
    "contest": "Cuộc thi",
    "entries": "Bài dự thi",
    "social_post": "Bài đăng mạng xã hội",
    "reach": "Lượt tiếp cận",
    "dialogue": "Buổi đối thoại",
    "document": "Văn bản (kế hoạch, báo cáo)",
}


def unknown_kinds(kinds: list[str]) -> list[str]:
    return [kind for kind in kinds if kind not in PRODUCT_KINDS]
