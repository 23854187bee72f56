"""Tables of the synthetic population (`verify seed`): names, provinces, ages, streets.

:class:`SeedTables` turns them into the lists and cumulative weights the generator draws from.

Shares are approximate and public: family names as commonly cited (../shared/data/README.md),
province populations from the 2019 census (thousands), the 2019 age pyramid in five-year
bands (millions). Given names are ordered by rough popularity and weighted Zipf-like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from verify.domain.provinces import PROVINCES

# Family names: the cited shares (percent); Hoàng/Huỳnh and Vũ/Võ split north/south.
FAMILY_SHARES: dict[str, float] = {
    "Nguyễn": 38.0,
    "Trần": 11.0,
    "Lê": 9.5,
    "Phạm": 7.0,
    "Hoàng": 2.6,
    "Huỳnh": 2.4,
    "Phan": 4.5,
    "Vũ": 2.0,
    "Võ": 1.9,
    "Đặng": 2.1,
    "Bùi": 2.0,
    "Đỗ": 1.4,
    "Hồ": 1.3,
    "Ngô": 1.3,
    "Dương": 1.0,
    "Lý": 0.5,
}
# The long tail shares what the cited names leave (11.5%), in these relative weights.
FAMILY_TAIL: dict[str, float] = {
    "Trương": 10, "Đinh": 9, "Đoàn": 7, "Trịnh": 6, "Lâm": 6, "Mai": 6, "Hà": 6,
    "Cao": 5, "Lương": 5, "Tô": 4, "Tạ": 3, "Vương": 3, "Thái": 3, "Châu": 3, "Lưu": 3,
    "Phùng": 3, "Nông": 3, "Quách": 2, "Kiều": 2, "Chu": 2, "Triệu": 2, "Lục": 1,
    "Khúc": 1, "Thân": 1, "La": 1, "Tăng": 1, "Âu": 1, "Hứa": 1, "Giang": 1, "Mạc": 1,
    "Ông": 1, "Từ": 1, "Diệp": 1, "Lã": 1, "Doãn": 1, "Nghiêm": 1, "Tôn": 1, "Lò": 1,
}  # fmt: skip
FAMILY_TAIL_SHARE = 100.0 - sum(FAMILY_SHARES.values())

# Middle names by gender (percent); "" is none, two words are two middle names.
MALE_MIDDLE: dict[str, float] = {
    "Văn": 38, "Đức": 7, "Minh": 7, "Hữu": 6, "Quang": 5, "Đình": 4, "Quốc": 3, "Công": 3,
    "Thanh": 3, "Xuân": 3, "Hoàng": 3, "Gia": 3, "Bảo": 3, "Anh": 2, "Duy": 2, "Thế": 2,
    "Trọng": 2, "Ngọc": 1.5, "Tuấn": 1.5, "Nhật": 1.5, "Tiến": 1, "Mạnh": 1, "Trung": 1,
    "Phúc": 1, "Hoàng Minh": 0.8, "Văn Đức": 0.5, "Quang Minh": 0.5, "Minh Đức": 0.5,
    "Đức Minh": 0.4, "": 2.5,
}  # fmt: skip
FEMALE_MIDDLE: dict[str, float] = {
    "Thị": 40, "Ngọc": 7, "Thu": 5, "Thanh": 4, "Kim": 4, "Phương": 3, "Minh": 3,
    "Bảo": 2.5, "Mỹ": 2.5, "Hồng": 2.5, "Xuân": 2, "Khánh": 2, "Gia": 1.5, "Hoàng": 1.5,
    "Anh": 1.5, "Quỳnh": 1.5, "Bích": 1.5, "Như": 1.5, "Diệu": 1, "Hải": 1, "Cẩm": 1,
    "Tuyết": 0.5, "Thị Thu": 1.5, "Thị Ngọc": 1, "Thị Kim": 0.8, "Thị Thanh": 0.8,
    "Ngọc Bảo": 0.5, "Hoàng Minh": 0.4, "": 2,
}  # fmt: skip

# Given names, most popular first.
MALE_GIVEN: tuple[str, ...] = (
    "Anh", "Minh", "Tuấn", "Hùng", "Dũng", "Hải", "Nam", "Huy", "Đức", "Long", "Thành",
    "Sơn", "Quang", "Hoàng", "Cường", "Trung", "Hưng", "Phong", "Việt", "Khánh", "Tú",
    "Thắng", "Bình", "Tùng", "Hiếu", "Quân", "Vinh", "Phúc", "Đạt", "Lâm", "Tâm", "Trí",
    "Bảo", "Khoa", "Nghĩa", "Tài", "Toàn", "Tiến", "Kiên", "Lộc", "Hòa", "Thịnh", "Khang",
    "Nhân", "Phát", "Duy", "Chiến", "Công", "Định", "Giang", "Hào", "Hậu", "Hiệp", "Khôi",
    "Linh", "Luân", "Mạnh", "Nguyên", "Nhật", "Phước", "Quý", "Tân", "Thiện", "Trường",
    "Vũ", "An", "Dương", "Hiển", "Thái", "Lực", "Kiệt", "Hoàn",
)  # fmt: skip
FEMALE_GIVEN: tuple[str, ...] = (
    "Linh", "Anh", "Hương", "Trang", "Hà", "Lan", "Ngọc", "Thảo", "Huyền", "Hằng",
    "Phương", "Mai", "Thủy", "Nhung", "Dung", "Hạnh", "Yến", "Vân", "Hoa", "Nga", "Hiền",
    "Loan", "Thúy", "Chi", "Vy", "Ly", "Nhi", "My", "Quỳnh", "Trinh", "Oanh", "Tuyết",
    "Hồng", "Liên", "Thu", "Uyên", "Giang", "Duyên", "Ngân", "Nguyệt", "Như", "Phượng",
    "Quyên", "Tâm", "Thanh", "Thư", "Tiên", "Trâm", "Tú", "Vi", "Xuân", "Ánh", "Châu",
    "Diễm", "Đào", "Huệ", "Khánh", "Lệ", "Nhàn", "Thơ", "Bích", "Băng", "An", "Diệp",
    "Gấm", "Lụa", "Thắm", "Sen",
)  # fmt: skip

# Province population, 2019 census (thousands), by birth-registration code.
PROVINCE_POPULATION: dict[str, int] = {
    "001": 8054, "002": 854, "004": 530, "006": 314, "008": 785, "010": 731, "011": 599,
    "012": 460, "014": 1248, "015": 821, "017": 854, "019": 1287, "020": 782, "022": 1320,
    "024": 1804, "025": 1464, "026": 1151, "027": 1368, "030": 1893, "031": 2028,
    "033": 1252, "034": 1860, "035": 852, "036": 1780, "037": 982, "038": 3640, "040": 3327,
    "042": 1289, "044": 896, "045": 633, "046": 1129, "048": 1134, "049": 1496, "051": 1232,
    "052": 1487, "054": 873, "056": 1232, "058": 591, "060": 1231, "062": 540, "064": 1513,
    "066": 1869, "067": 622, "068": 1297, "070": 995, "072": 1170, "074": 2456, "075": 3097,
    "077": 1149, "079": 8993, "080": 1689, "082": 1765, "083": 1289, "084": 1009,
    "086": 1023, "087": 1600, "089": 1908, "091": 1724, "092": 1236, "093": 734, "094": 1200,
    "095": 907, "096": 1194,
}  # fmt: skip
# Where people who live outside their birth province moved to: population times this.
MIGRATION_PULL: dict[str, float] = {
    "079": 6, "074": 8, "001": 4, "075": 4, "027": 3, "031": 2, "048": 3, "080": 2,
    "077": 2, "022": 2, "026": 2,
}  # fmt: skip

# Age pyramid: (first age, last age, millions of people).
AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 4, 7.6), (5, 9, 8.0), (10, 14, 7.4), (15, 19, 6.8), (20, 24, 6.7), (25, 29, 7.6),
    (30, 34, 8.1), (35, 39, 7.9), (40, 44, 7.3), (45, 49, 6.6), (50, 54, 6.0),
    (55, 59, 5.4), (60, 64, 4.6), (65, 69, 3.6), (70, 74, 2.4), (75, 79, 1.5),
    (80, 84, 1.1), (85, 89, 0.7), (90, 94, 0.35), (95, 100, 0.15),
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "Lê Lợi", "Trần Hưng Đạo", "Nguyễn Huệ", "Hai Bà Trưng", "Lý Thường Kiệt", "Quang Trung",
    "Nguyễn Trãi", "Lê Duẩn", "Phan Chu Trinh", "Điện Biên Phủ", "Võ Thị Sáu", "Nguyễn Du",
    "Lê Thánh Tông", "Hùng Vương", "Nguyễn Văn Cừ", "Phạm Văn Đồng", "Lạc Long Quân",
    "Âu Cơ", "Bà Triệu", "Trần Phú", "Ngô Quyền", "Lý Thái Tổ", "Trần Quang Khải",
    "Nguyễn Thị Minh Khai", "Cách Mạng Tháng Tám", "Tôn Đức Thắng", "Hoàng Văn Thụ",
    "Phan Đình Phùng", "Nguyễn Chí Thanh", "Lê Hồng Phong",
)  # fmt: skip
WARDS: tuple[str, ...] = (
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "Bến Nghé", "Tân Định",
    "Hàng Bạc", "Cửa Nam", "Phú Hòa", "Tân Phong", "An Phú", "Hòa Bình", "Quang Trung",
    "Trần Phú", "Minh Khai", "Thạch Thang", "Vĩnh Ninh", "Tân An", "Phước Hòa", "Đông Xuyên",
)  # fmt: skip


def zipf_weights(names: Sequence[str], offset: float = 4.0) -> list[float]:
    """Weights 1/(rank + offset): a plausible frequency curve for a popularity-ordered list."""
    return [1.0 / (rank + offset) for rank in range(1, len(names) + 1)]


def family_weights() -> dict[str, float]:
    tail_total = sum(FAMILY_TAIL.values())
    tail = {name: FAMILY_TAIL_SHARE * w / tail_total for name, w in FAMILY_TAIL.items()}
    return {**FAMILY_SHARES, **tail}


def age_weights(max_age: int) -> list[float]:
    """Weight of each age 0..max_age: each band's people spread evenly over its years."""
    weights = [0.0] * (max_age + 1)
    for first, last, millions in AGE_BANDS:
        for age in range(first, min(last, max_age) + 1):
            weights[age] = millions / (last - first + 1)
    return weights


def cumulative(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def by_age(steps: tuple[tuple[int, float], ...], max_age: int) -> list[float]:
    """A share for each age 0..max_age from ``(from_age, share)`` steps."""
    return [
        max((p for start, p in steps if age >= start), default=0.0) for age in range(max_age + 1)
    ]


def name_table(middles: dict[str, float], givens: Sequence[str]) -> tuple[list[str], list[float]]:
    """Every middle + given combination (a name does not repeat its last middle word)."""
    names, weights = [], []
    for middle, middle_weight in middles.items():
        for given, given_weight in zip(givens, zipf_weights(givens), strict=True):
            if middle.split()[-1:] != [given]:
                names.append(f"{middle} {given}" if middle else given)
                weights.append(middle_weight * given_weight)
    return names, cumulative(weights)


@dataclass(frozen=True, slots=True)
class SeedTables:
    """What the generator draws from: values and their cumulative weights."""

    families: list[str]
    family_cum: list[float]
    male_names: list[str]  # middle + given
    male_cum: list[float]
    female_names: list[str]
    female_cum: list[float]
    ages: list[int]
    age_cum: list[float]
    codes: list[str]  # birth-registration codes, "001"
    code_ints: list[str]  # the smallint column's text, "1"
    province_names: list[str]
    province_cum: list[float]
    destination_cum: list[float]  # where those who left their birth province live
    year_only: list[float]  # share known only by birth year, by age
    deceased: list[float]  # by age

    @classmethod
    def build(
        cls,
        max_age: int,
        year_only: tuple[tuple[int, float], ...],
        deceased: tuple[tuple[int, float], ...],
    ) -> SeedTables:
        family = family_weights()
        codes = list(PROVINCES)
        population = [PROVINCE_POPULATION[c] for c in codes]
        pull = [p * MIGRATION_PULL.get(c, 0.3) for c, p in zip(codes, population, strict=True)]
        return cls(
            list(family),
            cumulative(list(family.values())),
            *name_table(MALE_MIDDLE, MALE_GIVEN),
            *name_table(FEMALE_MIDDLE, FEMALE_GIVEN),
            list(range(max_age + 1)),
            cumulative(age_weights(max_age)),
            codes,
            [str(int(c)) for c in codes],
            [PROVINCES[c] for c in codes],
            cumulative(population),
            cumulative(pull),
            by_age(year_only, max_age),
            by_age(deceased, max_age),
        )
