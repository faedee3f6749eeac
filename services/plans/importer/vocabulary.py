"""The words plans are written in, and OCR-damaged words read back to them (issue 19): "thot gian
thyc hién" → "thoi gian thuc hien", "s6" → "so", "nim" → "nam", "pang" → "dang". Works on the
matching form (no diacritics, lower case): it is a second look for the readers when the text as
written does not match their patterns, never a rewrite of what is kept."""

from __future__ import annotations

import functools
import re

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extract

from services.plans.bodies import STANDARD_COMMUNE_BODIES, STANDARD_DISTRICT_BODIES
from shared.text import normalize

# Words of the labels, headings, header, dates and periods a reader looks for, and frequent
# words of plans beside them (so that a word written right is not "repaired" into a label word).
_WORDS = """
thoi gian thuc hien hoan thanh han chu tri phoi hop co quan don vi san pham ket qua noi dung
nhiem vu stt tt so ke hoach nam thang quy ngay tu den truoc sau trong dinh ky thuong xuyen hang
lan cuoi dau to chuc trach phan cong giao muc dich yeu cau kinh phi hinh nhan luu dang uy ban
dan ubnd hdnd xa phuong thi tran huyen tinh thanh pho khu dac tham muu bao cao cua ve va cac
lien thuoc theo can cu dia tuyen truyen cai cach chinh nha nuoc tac tich doc lap do hanh phuc
hoa hoi nghia viet nam chuong trinh trien khai dieu hanh mat to quoc
tin chi dao ho tra thu nang cung ung dung vien nguoi tai cho voi duoc nhung mot hai ba bon bay
tam chin muoi la se da nay khi neu hoac tren duoi ra vao len xuong moi tat ca luong chat tang
giam bao kiem sat huong tong day manh dich truc tuc giai quyet dien doi thoai nghi tap huan boi
duong can bo van the thao kinh te toan phap xay truong doan nien hiep phu nu cuu chien binh nong
an su dai trang zalo pano bang ron gap tieu luan quyet lanh cap quyen tiep thong ra gui lam
bai viet kh nhat lap ngan sach nguon tong so xuat ban doanh nghiep chuyen mon
"""
_UNIT_NAMES = [name for _, name in (*STANDARD_COMMUNE_BODIES, *STANDARD_DISTRICT_BODIES)]
_UNIT_WORDS = {w for name in _UNIT_NAMES for w in normalize(name).split()}
# How the words are written, with their diacritics, as far as the standard bodies' names and the
# words below show: a word read back is written so ("rien" → "niên"), else without diacritics.
_WRITTEN = """
thời gian thực hiện hoàn thành hạn chủ trì phối hợp cơ quan đơn vị sản phẩm kết quả nội dung
nhiệm vụ số kế hoạch năm tháng quý ngày từ đến trước sau trong định kỳ thường xuyên hằng lần
cuối đầu tổ chức trách phân công giao xã phường thị trấn huyện tỉnh thành phố đặc khu tham mưu
báo cáo của về và các liên quan thuộc theo ủy ban nhân dân đoàn thanh niên hội phụ nữ cựu chiến
binh nông mặt trận quốc công an quân sự đài truyền văn hóa thông tin thể thao tư pháp hộ tịch
tài chính kế toán địa xây dựng môi trường nội vụ kinh tế phòng trung tâm ban ngành thôn làng
"""
_ACCENTED: dict[str, str] = {}
for _word in (*_WRITTEN.split(), *(w for name in _UNIT_NAMES for w in name.split())):
    _ACCENTED.setdefault(normalize(_word), _word.lower())
VOCABULARY: frozenset[str] = frozenset(_WORDS.split()) | frozenset(w for w in _UNIT_WORDS if w.isalpha())

# OCR confusions folded away before words are compared: i/l/1/|, o/0/6, đ/d/P, rn/m, cl/d, y/u,
# e/c, n/ri, h/b. Both sides are folded, so a word of the vocabulary folds as its damage does.
_PAIRS = (("rn", "m"), ("cl", "d"), ("ri", "n"))
_CHARS = str.maketrans(
    {"1": "i", "l": "i", "|": "i", "!": "i", "0": "o", "6": "o", "p": "d", "y": "u", "e": "c", "b": "h"}
)


def skeleton(word: str) -> str:
    for pair, one in _PAIRS:
        word = word.replace(pair, one)
    return word.translate(_CHARS)


def dropped(token: str, word: str) -> bool:
    """Whether `token` is `word` with one letter (two, in a word of five or more) left out."""
    missing = len(word) - len(token)
    if not 0 < missing <= (2 if len(word) >= 5 else 1):
        return False
    letters = iter(word)
    return all(ch in letters for ch in token)


class Vocabulary:
    """Words, and OCR-damaged words read back to them: a word whose folded form is one of theirs,
    or (for the longer words, and in a small vocabulary for any) one letter away from exactly one."""

    def __init__(self, words: frozenset[str], *, short_words_too: bool = False) -> None:
        self.words = words
        self.short_words_too = short_words_too  # a small vocabulary: "qu", "qy" → "quy"
        self.by_skeleton: dict[str, set[str]] = {}
        for word in words:
            self.by_skeleton.setdefault(skeleton(word), set()).add(word)
        self.skeletons = list(self.by_skeleton)
        self.word = functools.lru_cache(maxsize=8192)(self._word)

    def _word(self, token: str) -> str:
        if token in self.words or not re.search(r"[a-z]", token) or token.isdigit():
            return token
        folded = skeleton(token)
        same = self.by_skeleton.get(folded)
        if same:
            return next(iter(same)) if len(same) == 1 else token
        if len(folded) < (2 if self.short_words_too else 3):
            return token
        # letters dropped (the commonest damage) first: "qu" → "quy", "ruoc" → "truoc", "hag" → "hang"
        fits = [skel for skel in self.skeletons if dropped(folded, skel)]
        fewest = min((len(skel) for skel in fits), default=0)
        longer = {w for skel in fits if len(skel) == fewest for w in self.by_skeleton[skel]}
        if longer:
            return next(iter(longer)) if len(longer) == 1 else token
        near = extract(folded, self.skeletons, scorer=Levenshtein.distance, score_cutoff=1, limit=3)
        words = {w for skel, distance, _ in near if distance <= 1 for w in self.by_skeleton[skel]}
        return next(iter(words)) if len(words) == 1 else token

    def repaired(self, text: str) -> str:
        return _TOKEN.sub(lambda m: self.word(m.group()), normalize(text))


PLAN_WORDS = Vocabulary(VOCABULARY)
# The words of timelines and dates alone: few, so that even "qu" and "ruoc" have one reading.
TIME_WORDS = Vocabulary(
    frozenset(
        # not "hoàn thành": "than 7/2025" and "han thang" have then one reading
        "thuong xuyen hang thang quy nam truoc ngay tu den dinh ky lan ca cuoi dau trong sau moi tuan "
        "va theo tien do nua hoac khi chin".split()
    ),
    short_words_too=True,
)


def repair_word(token: str) -> str:
    """The vocabulary word `token` is an OCR misreading of, when exactly one fits; else `token`."""
    return PLAN_WORDS.word(token)


_TOKEN = re.compile(r"[a-z0-9|!]+")  # a word, with the digits and strokes OCR puts in words


def repaired(text: str) -> str:
    """`text` in the matching form with each damaged word read back to the vocabulary word it
    stands for ("thot gian thyc hien" → "thoi gian thuc hien"); digits and unknown words kept."""
    return PLAN_WORDS.repaired(text)


_QUARTER_MISREAD = re.compile(r"\b(quy\s*)([il1|]{1,3}v?|[il1|]?v)(?![a-z0-9])")


def repaired_time(text: str) -> str:
    """A timeline or a date with its words read back ("Thờng xuyêri" → "thuong xuyen", "Qu 11/2026"
    → "quy ii/2026": a quarter is one to four, so "11" after "quý" is the numeral II misread)."""
    fixed = TIME_WORDS.repaired(text)
    return _QUARTER_MISREAD.sub(lambda m: m[1] + re.sub("[l1|]", "i", m[2]), fixed)


def says(text: str, phrases: tuple[str, ...], *, similarity: float = 85) -> str | None:
    """Which of `phrases` (matching form, several words) `text` says, damaged or not: as written,
    with its words repaired, or nearly so (a phrase of ten letters or more, `similarity` % alike
    with a stretch of the repaired text)."""
    norm = normalize(text)
    for phrase in phrases:
        if phrase in norm:
            return phrase
    fixed = repaired(norm)
    words = fixed.split()
    for phrase in phrases:
        if phrase in fixed:
            return phrase
        size = len(phrase.split())
        if len(phrase) < 10 or len(words) < size - 1:
            continue
        # a stretch of as many words (one fewer or more: a word split or run together), nearly equal
        stretches = (" ".join(words[i : i + n]) for n in (size - 1, size, size + 1) for i in range(len(words) - n + 1))
        if any(fuzz.ratio(phrase, stretch) >= similarity for stretch in stretches):
            return phrase
    return None


_NUCLEI = (
    "a e i o u y ai ao au ay eo eu ia ie iu oa oe oi ua ue ui uo uu uy ya ye yu ieu oai oao oay oeo "
    "uay uoi uou uya uye uyu uoa yeu"
).split()
_SYLLABLE = re.compile(
    rf"(?:ngh|ng|gh|gi|kh|nh|ph|th|tr|ch|qu|[bcdghklmnprstvx])?(?:{'|'.join(sorted(_NUCLEI, key=len, reverse=True))})"
    r"(?:ch|ng|nh|[cmnpt])?"
)


def is_syllable(plain: str) -> bool:
    """Whether a word (matching form) can be a Vietnamese syllable: 'nganh', 'thon', not 'riien',
    'thng', 'c6ng' — a word that cannot is damaged."""
    return bool(_SYLLABLE.fullmatch(plain))


def misread(text: str) -> bool:
    """Whether `text` holds a word that is no Vietnamese syllable (a sign of OCR damage); words
    written in capitals (UBND, HĐND, VHXH) are abbreviations, not syllables."""
    return any(
        not token.isdigit() and not is_syllable(normalize(token))
        for token in re.findall(r"[^\s,;.:()/&-]+", text)
        if not (token.isupper() and len(token) > 1) and re.search(r"[^\W\d_]", token)
    )


DAMAGED_SHARE = 0.03  # a document with more words that are no syllable than this is a damaged scan


def misread_share(texts: list[str]) -> float:
    """The share of a document's words that are no Vietnamese syllable (abbreviations in capitals
    aside): under 2 % in a clean plan (names like VNeID, Zalo), 4 % and more in a damaged scan."""
    words = [
        token
        for text in texts
        for token in re.findall(r"[^\s,;.:()/&\-\"“”]+", text)
        if re.search(r"[^\W\d_]", token) and not (token.isupper() and len(token) > 1)
    ]
    return sum(not is_syllable(normalize(token)) for token in words) / len(words) if words else 0.0


_WRITTEN_WORD = re.compile(r"[^\s,;.:()/&-]+")


def restored(text: str) -> str:
    """`text` as written, with each OCR-misread word replaced by the word it stands for (with its
    diacritics where known, its capital kept): "Doan Thanh riiên xa" → "Doan Thanh niên xa"."""

    def word(match: re.Match[str]) -> str:
        original = match.group()
        plain = normalize(original)
        if is_syllable(plain) or (original.isupper() and len(original) > 1) or not _TOKEN.fullmatch(plain):
            return original
        fixed = PLAN_WORDS.word(plain)
        if fixed == plain:
            return original
        written = _ACCENTED.get(fixed, fixed)
        return written[:1].upper() + written[1:] if original[:1].isupper() else written

    return _WRITTEN_WORD.sub(word, text)


def unfamiliar(text: str) -> bool:
    """Whether `text` holds a word the vocabulary does not know (perhaps OCR damage, perhaps a
    word of its own): the cue for a second look, which then needs a unique fit."""
    return any(token not in VOCABULARY for token in _TOKEN.findall(normalize(text)) if not token.isdigit())


# Two-word phrases of reporting duties: a pair of words nearly one of them (a letter lost from one
# word: "ao cao", "6 hang") is read as it.
REPORT_PHRASES = (
    "bao cao",
    "ket qua",
    "dinh ky",
    "6 thang",
    "9 thang",
    "truoc ngay",
    "hang quy",
    "hang nam",
    "hang thang",
    "va nam",
    "ca nam",
    "dau nam",
    "cuoi nam",
    "cuoi quy",
)
# "năm" before a year, a letter lost or misread ("nă 2026", "nm 2026", "ăm 2026", "narn 2026")
_YEAR_WORD = re.compile(r"(?<![a-z])(?:na|nm|am|nim|ndm|narn|nam)(?=\s+(?:19|20)\d{2}\b)")


def repaired_phrases(text: str, phrases: tuple[str, ...] = REPORT_PHRASES, *, similarity: float = 85) -> str:
    """`text` with its words read back, then each pair of words nearly one of `phrases` read as it."""
    words = _YEAR_WORD.sub("nam", repaired(text)).split(" ")
    index = 0
    while index < len(words) - 1:
        pair = f"{words[index]} {words[index + 1]}"
        bare = pair.strip(",.;:()")
        # letters lost from the phrase ("ao cao", "6 hang"), not another phrase ("thang nam" is no "hang nam")
        close = [p for p in phrases if p != bare and fuzz.ratio(bare, p) >= similarity and _within(bare, p)]
        if len(close) == 1 and bare not in phrases:
            first, second = close[0].split(" ")
            words[index] = words[index].replace(words[index].strip(",.;:()"), first, 1)
            words[index + 1] = words[index + 1].replace(words[index + 1].strip(",.;:()"), second, 1)
            index += 2
            continue
        index += 1
    return " ".join(words)


def _within(short: str, long: str) -> bool:
    """Whether `short` is `long` with letters left out (its letters in order within `long`)."""
    letters = iter(long)
    return len(short) < len(long) and all(ch in letters for ch in short)


def opens_basis(text: str, openings: tuple[str, ...] = ("thuc hien", "can cu")) -> bool:
    """Whether `text` opens a sentence of the basis: 'Thực hiện …', 'Căn cứ …', also damaged
    ('Tực hiệri …', 'ări cứ …')."""
    norm = normalize(text[:24])
    if norm.startswith(openings):
        return True
    head = " ".join(repaired(norm).split()[:2])
    return any(fuzz.ratio(head, opening) >= 75 for opening in openings if len(opening.split()) == 2)


# The labels of a task's facts, as plans word them (in a table's header row, or before a colon in
# a list: "Đơn vị chủ trì:", "Thời gian thực hiện:"). General wording, not any one plan's.
LABELS: dict[str, tuple[str, ...]] = {
    "lead": (
        "chu tri",
        "co quan chu tri",
        "don vi chu tri",
        "chu tri thuc hien",
        "don vi chu tri thuc hien",
        "tham muu",
        "tham muu thuc hien",
        "co quan thuc hien",
        "don vi thuc hien",
        "don vi thuc hien chinh",
        "co quan tham muu",
        "don vi tham muu",
    ),
    "coordinating": (
        "phoi hop",
        "co quan phoi hop",
        "don vi phoi hop",
        "phoi hop thuc hien",
        "co quan, don vi phoi hop",
        "don vi phoi hop thuc hien",
    ),
    "timeline": (
        "thoi gian",
        "thoi gian thuc hien",
        "thoi gian hoan thanh",
        "thoi han",
        "thoi han hoan thanh",
        "tien do",
        "tien do thuc hien",
    ),
    "products": ("san pham", "ket qua", "ket qua/san pham", "ket qua, san pham", "san pham dau ra", "ket qua dau ra"),
}
_LABEL_FORMS = [
    (column, re.sub(r"[^a-z]", "", skeleton(phrase))) for column, phrases in LABELS.items() for phrase in phrases
]
LABEL_ALIKE = 80  # % alike (folded, spaces aside) for a damaged label read as a label


def label_column(label: str, *, alike: float = LABEL_ALIKE) -> tuple[str, float] | None:
    """Which task fact a damaged label names ("Phố| hợp", "Thời ạn", "Sảri phẩm", "hủ trì"), with
    how alike it is: the label compared whole, as one folded phrase, with every wording of every
    fact, so that a letter lost leaving another word ("lên") still leaves the phrase nearly whole.
    None when nothing is `alike` % alike, or when two facts are about as alike (no guess)."""
    form = re.sub(r"[^a-z]", "", skeleton(normalize(label).replace("|", "i")))
    if len(form) < 4:
        return None
    best: dict[str, float] = {}
    for column, phrase in _LABEL_FORMS:
        score = fuzz.ratio(form, phrase)
        if score > best.get(column, 0):
            best[column] = score
    ranked = sorted(best.items(), key=lambda item: -item[1])
    column, score = ranked[0]
    if score < alike or (len(ranked) > 1 and ranked[1][1] > score - 10):
        return None
    return column, score / 100
