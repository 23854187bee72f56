"""A table of name cases: real-world spellings of the same person, and other people.

Plain data for the unit tests (tests/unit/domain/test_name_table.py) and for the
before/after report (``python -m loadtest.name_table_report``). Each row is a claimed
name, the register's name, the expected result and rule, the category it stands for,
and whether the claim names the same person as the register (``same``) or another one.

Same-person rows must be ``match`` except given-name-first order and one-letter slips
in a middle word (``partial``), and a claim that carries marks differing from the
register's only in marks (``partial/marks_differ``: a slip or another name). Other-person
rows are ``no_match``, except where only the marks differ (``partial/marks_differ``);
an unaccented system cannot tell them apart, so an unaccented claim is ``match``.
"""

# ruff: noqa: RUF001  (the apostrophe and dash variants are the point of these cases)
from __future__ import annotations

from dataclasses import dataclass

M, P, N = "match", "partial", "no_match"


@dataclass(frozen=True)
class NameCase:
    claim: str
    register: str
    result: str
    rule: str | None
    category: str
    same: bool  # the same person (True) or another person (False)


def _same(claim: str, register: str, result: str, rule: str | None, category: str) -> NameCase:
    return NameCase(claim, register, result, rule, category, True)


def _other(claim: str, register: str, result: str, rule: str | None, category: str) -> NameCase:
    return NameCase(claim, register, result, rule, category, False)


NFD_THUY = "Nguye\u0302\u0303n Thi\u0323 Thu\u0301y"  # Nguyễn Thị Thúy, decomposed
NFD_AN = "Nguye\u0302\u0303n Va\u0306n An"

SAME_PERSON: list[NameCase] = [
    # tone placement of oa, oe, uy, both ways
    _same("Nguyễn Thị Thuý", "Nguyễn Thị Thúy", M, "exact", "tone_placement"),
    _same("Nguyễn Thị Thúy", "Nguyễn Thị Thuý", M, "exact", "tone_placement"),
    _same("Lê Văn Hoà", "Lê Văn Hòa", M, "exact", "tone_placement"),
    _same("Lê Văn Hòa", "Lê Văn Hoà", M, "exact", "tone_placement"),
    _same("Trần Thị Thuỷ", "Trần Thị Thủy", M, "exact", "tone_placement"),
    _same("Phạm Văn Khoẻ", "Phạm Văn Khỏe", M, "exact", "tone_placement"),
    _same("Vũ Thị Xoà", "Vũ Thị Xòa", M, "exact", "tone_placement"),
    _same("Đỗ Văn Tuỳ", "Đỗ Văn Tùy", M, "exact", "tone_placement"),
    _same("NGUYỄN THỊ THUÝ", "Nguyễn Thị Thúy", M, "exact", "tone_placement"),
    _same("Trần Hoà Bình", "Trần Hòa Bình", M, "exact", "tone_placement"),
    # NFD input
    _same(NFD_THUY, "Nguyễn Thị Thúy", M, "exact", "nfd"),
    _same(NFD_AN, "Nguyễn Văn An", M, "exact", "nfd"),
    _same("Đặng Đức Minh", "Đa\u0306\u0323ng Đu\u031b\u0301c Minh", M, "exact", "nfd"),
    # case and spaces
    _same("  nguyễn   VĂN an ", "Nguyễn Văn An", M, "exact", "case_spaces"),
    _same("NGUYỄN VĂN AN", "Nguyễn Văn An", M, "exact", "case_spaces"),
    _same("trần\u00a0thị hà", "Trần Thị Hà", M, "exact", "case_spaces"),
    # unaccented, upper case
    _same("NGUYEN VAN AN", "Nguyễn Văn An", M, "ascii_folded", "unaccented"),
    _same("DANG DUC MINH", "Đặng Đức Minh", M, "ascii_folded", "unaccented"),
    _same("TRUONG THI UOT", "Trương Thị Ướt", M, "ascii_folded", "unaccented"),
    _same("nguyen thi thuy", "Nguyễn Thị Thúy", M, "ascii_folded", "unaccented"),
    _same("HUYNH THI KIM PHUONG", "Huỳnh Thị Kim Phương", M, "ascii_folded", "unaccented"),
    # Ð (U+00D0) and ð (U+00F0) for Đ and đ
    _same("ÐẶNG ÐỨC MINH", "Đặng Đức Minh", M, "exact", "look_alike"),
    _same("Ðặng Ðức Minh", "Đặng Đức Minh", M, "exact", "look_alike"),
    _same("Trần Văn ðông", "Trần Văn Đông", M, "exact", "look_alike"),
    _same("Đào Văn Đông", "Ðào Văn Ðông", M, "exact", "look_alike"),
    # airline style: plain, with a title, given names run together with a title
    _same("NGUYEN/VAN AN", "Nguyễn Văn An", M, "airline", "airline"),
    _same("NGUYEN/VAN AN MR", "Nguyễn Văn An", M, "airline", "airline"),
    _same("NGUYEN/VANAN MR", "Nguyễn Văn An", M, "airline", "airline"),
    _same("NGUYEN/VANANMR", "Nguyễn Văn An", M, "airline", "airline"),
    _same("TRAN/THI HA MS", "Trần Thị Hà", M, "airline", "airline"),
    _same("TRAN/THIHA MRS", "Trần Thị Hà", M, "airline", "airline"),
    _same("NGO/GIA BAO MSTR", "Ngô Gia Bảo", M, "airline", "airline"),
    _same("LE/THI THU MISS", "Lê Thị Thu", M, "airline", "airline"),
    _same("DANG/DUC MINH DR", "Đặng Đức Minh", M, "airline", "airline"),
    _same("NGUYEN / VAN AN MR", "Nguyễn Văn An", M, "airline", "airline"),
    _same("KSOR/HBO MS", "Ksor H'Bơ", M, "airline", "airline"),
    _same("RO CHAM/H HEN MS", "Rơ Châm H'Hen", M, "airline", "airline"),
    _same("NGUYENVAN/AN MR", "Nguyễn Văn An", M, "airline", "airline"),  # same letters
    # apostrophe variants, and an apostrophe dropped in unaccented text
    _same("Ksor H’Bơ", "Ksor H'Bơ", M, "exact", "apostrophe"),
    _same("Ksor H‘Bơ", "Ksor H'Bơ", M, "exact", "apostrophe"),
    _same("Ksor Hʼ Bơ", "Ksor H'Bơ", M, "exact", "apostrophe"),
    _same("Ksor H´Bơ", "Ksor H'Bơ", M, "exact", "apostrophe"),
    _same("Ksor H`Bơ", "Ksor H'Bơ", M, "exact", "apostrophe"),
    _same("H’Hen Niê", "H'Hen Niê", M, "exact", "apostrophe"),
    _same("KSOR HBO", "Ksor H'Bơ", M, "ascii_folded", "apostrophe"),
    _same("KSOR H BO", "Ksor H'Bơ", M, "ascii_folded", "apostrophe"),
    _same("HHEN NIE", "H'Hen Niê", M, "ascii_folded", "apostrophe"),
    _same("H'HEN NIE", "H’Hen Niê", M, "ascii_folded", "apostrophe"),
    # a hyphen written as a space, as U+2010 or another dash, or dropped
    _same("Y Jút Niê", "Y-Jút Niê", M, "exact", "hyphen"),
    _same("Y\u2010Jút Niê", "Y-Jút Niê", M, "exact", "hyphen"),
    _same("Y\u2011Jút Niê", "Y-Jút Niê", M, "exact", "hyphen"),
    _same("Y–Jút Niê", "Y-Jút Niê", M, "exact", "hyphen"),
    _same("Y-Jút Niê", "Y Jút Niê", M, "exact", "hyphen"),
    _same("Y JUT NIE", "Y-Jút Niê", M, "ascii_folded", "hyphen"),
    _same("YJUT NIE", "Y-Jút Niê", M, "ascii_folded", "hyphen"),
    # Ê Đê and Gia Rai names as written
    _same("Rơ Châm H’Hen", "Rơ Châm H'Hen", M, "exact", "ethnic"),
    _same("RO CHAM HHEN", "Rơ Châm H'Hen", M, "ascii_folded", "ethnic"),
    _same("Niê Kdăm H’Lan", "Niê Kdăm H'Lan", M, "exact", "ethnic"),
    _same("Nay Y\u2010Blang", "Nay Y-Blang", M, "exact", "ethnic"),
    # given name first (partial: the caller decides)
    _same("Văn An Nguyễn", "Nguyễn Văn An", P, "reordered", "reordered"),
    _same("An Nguyễn Văn", "Nguyễn Văn An", P, "reordered", "reordered"),
    _same("VAN AN NGUYEN", "Nguyễn Văn An", P, "reordered", "reordered"),
    _same("Hà Trần Thị", "Trần Thị Hà", P, "reordered", "reordered"),
    # a middle word one letter off, missing or extra (partial)
    _same("Nguyễn Văm An", "Nguyễn Văn An", P, "fuzzy", "middle_slip"),
    _same("Nguyen Vn An", "Nguyễn Văn An", P, "fuzzy", "middle_slip"),
    _same("Huỳnh Thị Kin Phương", "Huỳnh Thị Kim Phương", P, "fuzzy", "middle_slip"),
    _same("Huỳnh Kim Phương", "Huỳnh Thị Kim Phương", P, "fuzzy", "middle_slip"),
    _same("Nguyễn An", "Nguyễn Văn An", P, "fuzzy", "middle_slip"),
    _same("Đỗ Thị Ngọc Ánh", "Đỗ Ngọc Ánh", P, "fuzzy", "middle_slip"),
]

OTHER_PERSON: list[NameCase] = [
    # another given name, one letter or mark apart
    _other("Nguyễn Văn Anh", "Nguyễn Văn An", N, None, "given_differs"),
    _other("NGUYEN VAN ANH", "Nguyễn Văn An", N, None, "given_differs"),
    _other("Vũ Văn Anh", "Vũ Văn An", N, None, "given_differs"),
    _other("Vũ Văn An", "Vũ Văn Anh", N, None, "given_differs"),
    _other("Trần Thị Hoa", "Trần Thị Hòa", P, "marks_differ", "marks_only"),
    _other("Lê Thị Thu", "Lê Thị Thư", P, "marks_differ", "marks_only"),
    _other("Lê Thị Thư", "Lê Thị Thu", P, "marks_differ", "marks_only"),
    _other("Lê Ngọc Thanh", "Lê Ngọc Thành", P, "marks_differ", "marks_only"),
    _other("Nguyễn Văn Dung", "Nguyễn Văn Dũng", P, "marks_differ", "marks_only"),
    _other("Trần Thị Hạ", "Trần Thị Hà", P, "marks_differ", "marks_only"),
    _other("Vũ Minh Tuân", "Vũ Minh Tuấn", P, "marks_differ", "marks_only"),
    _other("Nguyễn Văn Bình", "Nguyễn Văn An", N, None, "given_differs"),
    _other("Nguyễn Văn Bảo", "Nguyễn Văn Bách", N, None, "given_differs"),
    _other("Phạm Minh Tuấn", "Phạm Minh Tuân", P, "marks_differ", "marks_only"),
    _other("PHAM MINH TUAN", "Phạm Minh Tuân", M, "ascii_folded", "marks_only"),
    _other("Hoàng Văn Nam", "Hoàng Văn Năm", P, "marks_differ", "marks_only"),
    _other("Trần Thị Lan", "Trần Thị Lam", N, None, "given_differs"),
    _other("Trần Thị Mai", "Trần Thị Mại", P, "marks_differ", "marks_only"),
    _other("Nguyễn Thị Thu", "Nguyễn Thị Thuy", N, None, "given_differs"),
    _other("Nguyễn Thị Thúy", "Nguyễn Thị Thu", N, None, "given_differs"),
    _other("Nguyen Thi Hanh", "Nguyễn Thị Hạnh Anh", N, None, "given_differs"),
    # another family name
    _other("Lý Văn An", "Lê Văn An", N, None, "family_differs"),
    _other("Lê Văn An", "Lý Văn An", N, None, "family_differs"),
    _other("LY VAN AN", "Lê Văn An", N, None, "family_differs"),
    _other("Trần Văn An", "Nguyễn Văn An", N, None, "family_differs"),
    _other("Vũ Văn An", "Võ Văn An", N, None, "family_differs"),
    _other("Võ Văn An", "Vũ Văn An", N, None, "family_differs"),
    _other("Hồ Thị Lan", "Hà Thị Lan", N, None, "family_differs"),
    _other("Phan Văn Đức", "Phạm Văn Đức", N, None, "family_differs"),
    _other("Dương Văn Minh", "Đường Văn Minh", P, "marks_differ", "marks_only"),
    # a different person altogether, or more than one slip
    _other("Lê Thị Thu", "Nguyễn Văn An", N, None, "other"),
    _other("Nguyễn Thị Anh", "Nguyễn Văn An", N, None, "other"),
    _other("Nguyễn Hữu Minh An", "Nguyễn Văn An", N, None, "other"),
    _other("Nguyễn An", "Nguyễn Văn Minh An", N, None, "other"),
    _other("NGUYEN/VAN ANH MR", "Nguyễn Văn An", N, None, "other"),
    _other("TRAN/VAN AN MR", "Nguyễn Văn An", N, None, "other"),
    _other("Ksor H'Ben", "Ksor H'Bơ", N, None, "other"),
    _other("Y-Jút Êban", "Y-Jút Niê", N, None, "other"),
    _other("n", "Nguyễn Văn An", N, None, "other"),
    _other("Nguyễn", "Nguyễn Văn An", N, None, "other"),
]

NAME_CASES: list[NameCase] = SAME_PERSON + OTHER_PERSON
