"""Fixed vocabularies with Vietnamese labels: communication products (sản phẩm tuyên truyền),
CCHC content areas and indices (nội dung, chỉ số), and channels (hình thức, kênh)."""

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


CONTENT_AREAS: dict[str, str] = {
    "institutions": "Cải cách thể chế",
    "procedures": "Cải cách thủ tục hành chính (một cửa, một cửa liên thông)",
    "apparatus": "Cải cách tổ chức bộ máy",
    "civil_service": "Cải cách chế độ công vụ",
    "public_finance": "Cải cách tài chính công",
    "digital_government": "Xây dựng chính quyền điện tử, chính quyền số",
    "par_index": "Chỉ số cải cách hành chính (PAR INDEX)",
    "sipas": "Chỉ số hài lòng (SIPAS)",
    "papi": "Chỉ số PAPI",
    "pci": "Chỉ số năng lực cạnh tranh (PCI)",
    "ddci": "Chỉ số DDCI",
    "dti": "Chỉ số chuyển đổi số (DTI)",
    "pii": "Chỉ số đổi mới sáng tạo (PII)",
    "general": "Chủ trương, chính sách chung về CCHC",
}

CHANNELS: dict[str, str] = {
    "radio": "Đài truyền thanh",
    "press": "Báo chí",
    "portal": "Cổng/Trang thông tin điện tử",
    "social": "Mạng xã hội (Zalo OA, Facebook, YouTube, TikTok)",
    "conference": "Hội nghị, tập huấn",
    "village_meeting": "Họp thôn, tổ dân phố",
    "visual": "Pano, áp phích, băng rôn, tờ rơi",
    "public_posting": "Niêm yết công khai thủ tục",
    "contest": "Cuộc thi tìm hiểu",
    "dialogue": "Đối thoại với người dân, doanh nghiệp",
    "video": "Video clip",
    "infographic": "Infographic",
}
