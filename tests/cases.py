"""A hand-written register and verification cases, plain data for every test tier.

``REGISTER`` is what a test loads (into a fake or into Postgres); ``CASES`` are
/v1/verify request bodies with the response each must get (``outcome_to_json``'s
shape: the HTTP layer adds ``request_id`` and ``reference``) as of ``TODAY``;
``INVALID_CASES`` are bodies that must be refused with a problem ``code`` and
``field``; ``BATCH_ITEMS`` mixes both for /v1/verify/batch. ID numbers agree with
their structure (digits 1-6) and card expiry dates with the renewal rules; the
unit tests check both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from verify.domain.model import (
    Card,
    CardState,
    CitizenRecord,
    Gender,
    LifeStatus,
    PartialDate,
    Precision,
)

TODAY = dt.date(2026, 11, 28)

D = dt.date
ACTIVE, LOST, REVOKED = CardState.ACTIVE, CardState.LOST, CardState.REVOKED
MALE, FEMALE = Gender.MALE, Gender.FEMALE
LIVING, DECEASED = LifeStatus.LIVING, LifeStatus.DECEASED


@dataclass(frozen=True)
class RegisterEntry:
    record: CitizenRecord
    former_ids: tuple[str, ...]
    province_code: str  # residence
    address: str


@dataclass(frozen=True)
class Case:
    name: str
    body: dict[str, object]
    expected: dict[str, object]


@dataclass(frozen=True)
class InvalidCase:
    name: str
    body: object
    code: str
    field: str | None


def _person(
    id_number: str,
    full_name: str,
    birth: PartialDate,
    gender: Gender,
    cards: tuple[Card, ...] = (),
    status: LifeStatus = LIVING,
) -> CitizenRecord:
    return CitizenRecord(id_number, full_name, birth, gender, status, cards, version=1)


def _day(year: int, month: int, day: int) -> PartialDate:
    return PartialDate(D(year, month, day))


def _year(year: int) -> PartialDate:
    return PartialDate(D(year, 1, 1), Precision.YEAR)


AN, HA, MINH, THU = "001203012345", "079190004321", "048085777001", "036152100200"
BINH, LAN, TUAN, MAI = "031078333444", "040195555666", "001200909090", "038140246810"
BAO, ANH, HUY, NAM = "079215135790", "056188112233", "092200290200", "060066101010"
PHUONG, HONG, DONG = "083162520520", "203193909909", "068060606060"
OANH, VINH, XUAN = "025310150110", "034085010185", "017171311271"
AN_CMND, NAM_CMND, MAI_CMND = "012345678", "260123456", "171234567"
VINH_CMND_OLD, VINH_CMND = "151234567", "151234568"

REGISTER: list[RegisterEntry] = [
    RegisterEntry(
        _person(AN, "Nguyễn Văn An", _day(2003, 5, 14), MALE,
                (Card(D(2021, 7, 1), D(2028, 5, 14), ACTIVE),)),
        (AN_CMND,), "001", "Thôn 3, xã Đông Anh, Hà Nội",
    ),
    RegisterEntry(
        _person(HA, "Trần Thị Hà", _day(1990, 3, 8), FEMALE,
                (Card(D(2021, 4, 10), D(2030, 3, 8), ACTIVE),)),
        (), "079", "12 Lê Lợi, Quận 1, Hồ Chí Minh",
    ),
    RegisterEntry(  # his only card expired on his 40th birthday
        _person(MINH, "Đặng Đức Minh", _day(1985, 11, 2), MALE,
                (Card(D(2016, 6, 15), D(2025, 11, 2), ACTIVE),)),
        (), "048", "5 Bạch Đằng, Hải Châu, Đà Nẵng",
    ),
    RegisterEntry(  # year-only birth date; card issued at 70 never expires
        _person(THU, "Lê Thị Thu", _year(1952), FEMALE,
                (Card(D(2022, 1, 5), None, ACTIVE),)),
        (), "036", "Xóm 2, xã Hải Hậu, Nam Định",
    ),
    RegisterEntry(  # an older card, superseded (and also past its expiry)
        _person(BINH, "Phạm Văn Bình", _day(1978, 9, 30), MALE,
                (Card(D(2016, 1, 20), D(2018, 9, 30), ACTIVE),
                 Card(D(2021, 5, 1), D(2038, 9, 30), ACTIVE))),
        (), "031", "8 Trần Phú, Ngô Quyền, Hải Phòng",
    ),
    RegisterEntry(  # a lost card, then a new one
        _person(LAN, "Hoàng Thị Lan", _day(1995, 12, 25), FEMALE,
                (Card(D(2021, 3, 3), D(2035, 12, 25), LOST),
                 Card(D(2023, 8, 8), D(2035, 12, 25), ACTIVE))),
        (), "040", "Khối 4, phường Hưng Bình, Vinh, Nghệ An",
    ),
    RegisterEntry(  # current card revoked; issued at 23, so it would have lasted to 40
        _person(TUAN, "Vũ Minh Tuấn", _day(2000, 7, 19), MALE,
                (Card(D(2024, 2, 2), D(2040, 7, 19), REVOKED),)),
        (), "001", "21 Kim Mã, Ba Đình, Hà Nội",
    ),
    RegisterEntry(
        _person(MAI, "Bùi Thị Mai", _day(1940, 6, 1), FEMALE,
                (Card(D(2016, 10, 10), None, ACTIVE),), DECEASED),
        (MAI_CMND,), "038", "Thôn Trung, xã Hoằng Hóa, Thanh Hóa",
    ),
    RegisterEntry(  # a child without a card
        _person(BAO, "Ngô Gia Bảo", _day(2015, 4, 12), MALE),
        (), "079", "45 Nguyễn Trãi, Quận 5, Hồ Chí Minh",
    ),
    RegisterEntry(
        _person(ANH, "Đỗ Thị Ngọc Ánh", _day(1988, 4, 7), FEMALE,
                (Card(D(2021, 1, 15), D(2028, 4, 7), ACTIVE),)),
        (), "056", "3 Trần Phú, Nha Trang, Khánh Hòa",
    ),
    RegisterEntry(  # born 29 February: the 25th birthday in 2025 fell on 1 March
        _person(HUY, "Dương Quang Huy", _day(2000, 2, 29), MALE,
                (Card(D(2016, 8, 1), D(2025, 3, 1), ACTIVE),
                 Card(D(2025, 2, 20), D(2040, 2, 29), ACTIVE))),
        (), "092", "Ninh Kiều, Cần Thơ",
    ),
    RegisterEntry(  # card issued at 58: never expires
        _person(NAM, "Trương Văn Nam", _day(1966, 10, 10), MALE,
                (Card(D(2024, 10, 11), None, ACTIVE),)),
        (NAM_CMND,), "060", "Phan Thiết, Bình Thuận",
    ),
    RegisterEntry(  # card issued at 57 expired at 60
        _person(PHUONG, "Huỳnh Thị Kim Phương", _day(1962, 5, 20), FEMALE,
                (Card(D(2019, 6, 1), D(2022, 5, 20), ACTIVE),)),
        (), "083", "Mỏ Cày, Bến Tre",
    ),
    RegisterEntry(  # birth registered abroad (country code 203)
        _person(HONG, "Nguyễn Thị Hồng", _day(1993, 9, 9), FEMALE,
                (Card(D(2022, 12, 12), D(2033, 9, 9), ACTIVE),)),
        (), "001", "Cầu Giấy, Hà Nội",
    ),
    RegisterEntry(
        _person(DONG, "Lâm Văn Đông", _year(1960), MALE,
                (Card(D(2021, 7, 7), None, ACTIVE),)),
        (), "068", "Đà Lạt, Lâm Đồng",
    ),
    RegisterEntry(  # card issued at 14
        _person(OANH, "Kiều Thị Oanh", _day(2010, 1, 15), FEMALE,
                (Card(D(2024, 6, 1), D(2035, 1, 15), ACTIVE),)),
        (), "025", "Việt Trì, Phú Thọ",
    ),
    RegisterEntry(  # three cards: revoked, superseded, current; two former CMNDs
        _person(VINH, "Tạ Quang Vinh", _day(1985, 1, 1), MALE,
                (Card(D(2016, 3, 3), D(2025, 1, 1), REVOKED),
                 Card(D(2019, 4, 4), D(2025, 1, 1), ACTIVE),
                 Card(D(2025, 1, 10), D(2045, 1, 1), ACTIVE))),
        (VINH_CMND_OLD, VINH_CMND), "034", "Tiền Hải, Thái Bình",
    ),
    RegisterEntry(
        _person(XUAN, "Đinh Thị Thanh Xuân", _day(1971, 12, 31), FEMALE,
                (Card(D(2021, 12, 30), D(2031, 12, 31), ACTIVE),)),
        (), "017", "Hòa Bình",
    ),
]  # fmt: skip

FORMER_IDS: dict[str, str] = {
    former: entry.record.id_number for entry in REGISTER for former in entry.former_ids
}

# --- expected answers -------------------------------------------------------

NP: dict[str, object] = {"result": "not_provided"}
EXACT: dict[str, object] = {"result": "match", "rule": "exact"}
FOLDED: dict[str, object] = {"result": "match", "rule": "ascii_folded"}
AIRLINE: dict[str, object] = {"result": "match", "rule": "airline"}
N_NO: dict[str, object] = {"result": "no_match"}
MARKS: dict[str, object] = {"result": "partial", "rule": "marks_differ"}
FUZZY: dict[str, object] = {"result": "partial", "rule": "fuzzy"}
D_EXACT: dict[str, object] = {"result": "match", "rule": "exact"}
D_YEAR: dict[str, object] = {"result": "match", "rule": "year_only"}
D_SWAP: dict[str, object] = {"result": "partial", "rule": "day_month_swapped"}
D_NO: dict[str, object] = {"result": "no_match"}
G_OK: dict[str, object] = {"result": "match"}
G_NO: dict[str, object] = {"result": "no_match"}
NOT_FOUND: dict[str, object] = {"verdict": "not_found", "fields": {}, "reasons": []}


def expect(
    name: dict[str, object] = NP,
    dob: dict[str, object] = NP,
    gender: dict[str, object] = NP,
    card: str = "not_provided",
    reasons: tuple[str, ...] = (),
    booking: dict[str, object] | None = None,
) -> dict[str, object]:
    fields = {"full_name": name, "date_of_birth": dob, "gender": gender, "card": {"result": card}}
    fields |= {"booking_name": booking} if booking is not None else {}
    verdict = "no_match" if reasons else "match"
    return {"verdict": verdict, "fields": fields, "reasons": list(reasons)}


def full(
    id_number: str, name: str, dob: str, gender: str, card: str | None = None, **extra: object
) -> dict[str, object]:
    body: dict[str, object] = {
        "id_number": id_number,
        "full_name": name,
        "date_of_birth": dob,
        "gender": gender,
    }
    return body | ({"card_issue_date": card} if card else {}) | extra  # fmt: skip


ALL_OK = expect(EXACT, D_EXACT, G_OK, "valid")
AN_QR = f"{AN}|{AN_CMND}|Nguyễn Văn An|14052003|Nam|Thôn 3, xã Đông Anh, Hà Nội|01072021"
REORDERED: dict[str, object] = {"result": "partial", "rule": "reordered"}
NU_NFD = "Nu\u031b\u0303"  # "Nữ" written decomposed
FULLWIDTH_AN = "".join(chr(ord(digit) + 0xFEE0) for digit in AN)  # full-width digits

CASES: list[Case] = [
    # Nguyễn Văn An: names, dates, gender, cards, former ID, QR
    Case("an_all_fields", full(AN, "Nguyễn Văn An", "2003-05-14", "male", "2021-07-01",
                               purpose="airport_checkin", reference="PNR-4XK2"), ALL_OK),
    Case("an_ascii_upper", full(AN, "NGUYEN VAN AN", "2003-05-14", "male"),
         expect(FOLDED, D_EXACT, G_OK)),
    Case("an_case_and_spaces", {"id_number": AN, "full_name": "  nguyễn   VĂN an "},
         expect(EXACT)),
    Case("an_partly_unaccented", {"id_number": AN, "full_name": "Nguyen Văn An"},
         expect(MARKS, reasons=("full_name",))),
    Case("an_upper_with_marks", {"id_number": AN, "full_name": "NGUYỄN VĂN AN"}, expect(EXACT)),
    Case("an_reordered", {"id_number": AN, "full_name": "Văn An Nguyễn"},
         expect(REORDERED, reasons=("full_name",))),
    Case("an_reordered_accepted",
         {"id_number": AN, "full_name": "Văn An Nguyễn", "accept_partial": True},
         expect(REORDERED)),
    Case("an_airline", {"id_number": AN, "full_name": "NGUYEN/VAN AN", "gender": "male"},
         expect(AIRLINE, gender=G_OK)),
    Case("an_airline_run_together_title", {"id_number": AN, "full_name": "NGUYEN/VANAN MR"},
         expect(AIRLINE)),
    Case("an_fuzzy_middle", {"id_number": AN, "full_name": "Nguyễn Vă An"},
         expect(FUZZY, reasons=("full_name",))),
    Case("an_fuzzy_accepted",
         {"id_number": AN, "full_name": "Nguyen Vn An", "accept_partial": True}, expect(FUZZY)),
    Case("an_other_given_name", {"id_number": AN, "full_name": "Nguyen Van Anh"},
         expect(N_NO, reasons=("full_name",))),
    Case("an_other_given_name_accept_partial",
         {"id_number": AN, "full_name": "Nguyễn Văn Anh", "accept_partial": True},
         expect(N_NO, reasons=("full_name",))),
    Case("an_other_name", {"id_number": AN, "full_name": "Trần Văn Bình"},
         expect(N_NO, reasons=("full_name",))),
    Case("an_single_letter_name", {"id_number": AN, "full_name": "n"},
         expect(N_NO, reasons=("full_name",))),
    Case("an_require_card_without_card",
         {"id_number": AN, "full_name": "Nguyễn Văn An", "require_card": True},
         expect(EXACT, reasons=("card_not_provided",))),
    Case("an_require_card_with_card",
         full(AN, "Nguyễn Văn An", "2003-05-14", "male", "2021-07-01", require_card=True),
         ALL_OK),
    Case("an_booking_name_airline",
         {"qr": AN_QR, "booking_name": "NGUYEN/VANAN MR", "require_card": True,
          "terminal": "SGN-T1-12"},
         expect(EXACT, D_EXACT, G_OK, "valid", booking=AIRLINE)),
    Case("an_booking_name_other_person",
         full(AN, "Nguyễn Văn An", "2003-05-14", "male", booking_name="NGUYEN/VAN ANH MR"),
         expect(EXACT, D_EXACT, G_OK, reasons=("booking_name",), booking=N_NO)),
    Case("an_booking_name_reordered", {"id_number": AN, "booking_name": "Văn An Nguyễn"},
         expect(booking=REORDERED, reasons=("booking_name",))),
    Case("an_booking_name_reordered_accepted",
         {"id_number": AN, "booking_name": "VAN AN NGUYEN", "accept_partial": True},
         expect(booking=REORDERED)),
    Case("an_nulls", {"id_number": AN, "full_name": None, "gender": "Nam", "purpose": None},
         expect(gender=G_OK)),
    Case("an_gender_contradicts", {"id_number": AN, "gender": "female"},
         expect(gender=G_NO, reasons=("gender",))),
    Case("an_year_only", {"id_number": AN, "date_of_birth": "2003"}, expect(dob=D_YEAR)),
    Case("an_wrong_year", {"id_number": AN, "date_of_birth": "2004"},
         expect(dob=D_NO, reasons=("date_of_birth",))),
    Case("an_wrong_day", {"id_number": AN, "date_of_birth": "2003-05-15"},
         expect(dob=D_NO, reasons=("date_of_birth",))),
    Case("an_unknown_card", {"id_number": AN, "card_issue_date": "2020-01-01"},
         expect(card="unknown_card", reasons=("card_unknown",))),
    Case("an_everything_wrong", full(AN, "Lê Thị Thu", "1999-01-01", "female", "2020-01-01"),
         expect(N_NO, D_NO, G_NO, "unknown_card",
                ("full_name", "date_of_birth", "gender", "card_unknown"))),
    Case("an_former_id", full(AN_CMND, "Nguyễn Văn An", "2003-05-14", "male", "2021-07-01"),
         ALL_OK),
    Case("an_qr", {"qr": AN_QR, "purpose": "airport_checkin", "reference": "PNR-4XK2"}, ALL_OK),
    Case("an_qr_empty_former",
         {"qr": f"{AN}||Nguyễn Văn An|14052003|Nam|Thôn 3, Hà Nội|01072021"}, ALL_OK),
    Case("an_qr_truncated_after_name", {"qr": f"{AN}||Nguyễn Văn An"}, expect(EXACT)),
    Case("an_qr_eighth_field_ignored", {"qr": f"{AN_QR}|extra|fields"}, ALL_OK),
    Case("an_qr_issue_date_cut_short", {"qr": f"{AN}||Nguyễn Văn An|14052003|Nam|Hà Nội|0107"},
         expect(EXACT, D_EXACT, G_OK)),
    Case("an_qr_cut_short_card_required",
         {"qr": f"{AN}||Nguyễn Văn An|14052003|Nam|Hà Nội|0107", "require_card": True},
         expect(EXACT, D_EXACT, G_OK, reasons=("card_not_provided",))),
    Case("an_qr_gender_cut_short", {"qr": f"{AN}||Nguyễn Văn An|14052003|N"},
         expect(EXACT, D_EXACT)),    Case("an_qr_bom_crlf", {"qr": f"\ufeff{AN_QR}\r\n"}, ALL_OK),
    Case("an_qr_spaces_upper_gender",
         {"qr": f" {AN} | | Nguyễn Văn An | 14052003 | NAM | Hà Nội | 01072021 "}, ALL_OK),
    Case("an_qr_airline_name", {"qr": f"{AN}||NGUYEN/VAN AN|14052003|Nam"},
         expect(AIRLINE, D_EXACT, G_OK)),
    Case("an_qr_accept_partial",
         {"qr": f"{AN}||Văn An Nguyễn|14052003|Nam", "accept_partial": True},
         expect(REORDERED, D_EXACT, G_OK)),
    # Trần Thị Hà: Hà and Hạ are different names; QR with Nữ
    Case("ha_vs_ha_dot", {"id_number": HA, "full_name": "Trần Thị Hạ"},
         expect(MARKS, reasons=("full_name",))),
    Case("ha_vs_ha_dot_accepted",
         {"id_number": HA, "full_name": "Trần Thị Hạ", "accept_partial": True}, expect(MARKS)),
    Case("ha_qr_nu_unaccented", {"qr": f"{HA}||Trần Thị Hà|08031990|NU|Quận 1|10042021"},
         ALL_OK),
    Case("ha_qr_nu_lower", {"qr": f"{HA}||TRAN THI HA|08031990|nu"},
         expect(FOLDED, D_EXACT, G_OK)),
    Case("ha_airline_title", {"id_number": HA, "full_name": "TRAN/THI HA MS"}, expect(AIRLINE)),
    Case("ha_ascii", full(HA, "Tran Thi Ha", "1990-03-08", "Nữ", "2021-04-10"),
         expect(FOLDED, D_EXACT, G_OK, "valid")),
    Case("ha_qr_nu", {"qr": f"{HA}||Trần Thị Hà|08031990|Nữ|Quận 1|10042021"}, ALL_OK),
    Case("ha_qr_nu_nfd_lower",
         {"qr": f"{HA}||Trần Thị Hà|08031990|{NU_NFD.lower()}|Quận 1|10042021"}, ALL_OK),
    Case("ha_gender_male", {"id_number": HA, "gender": "MALE"},
         expect(gender=G_NO, reasons=("gender",))),
    # cards
    Case("minh_expired", full(MINH, "Dang Duc Minh", "1985-11-02", "male", "2016-06-15"),
         expect(FOLDED, D_EXACT, G_OK, "expired", ("card_expired",))),
    Case("minh_no_card", full(MINH, "Đặng Đức Minh", "1985-11-02", "male"),
         expect(EXACT, D_EXACT, G_OK)),
    Case("minh_eth_look_alike", {"id_number": MINH, "full_name": "ÐẶNG ÐỨC MINH"},
         expect(EXACT)),
    Case("minh_nfd", {"id_number": MINH, "full_name": "Đa\u0306\u0323ng Đu\u031b\u0301c Minh"},
         expect(EXACT)),
    Case("binh_superseded", full(BINH, "Phạm Văn Bình", "1978-09-30", "male", "2016-01-20"),
         expect(EXACT, D_EXACT, G_OK, "superseded", ("card_superseded",))),
    Case("binh_current", full(BINH, "Phạm Văn Bình", "1978-09-30", "male", "2021-05-01"), ALL_OK),
    Case("lan_lost", full(LAN, "Hoàng Thị Lan", "1995-12-25", "female", "2021-03-03"),
         expect(EXACT, D_EXACT, G_OK, "revoked", ("card_revoked",))),
    Case("lan_current", full(LAN, "Hoàng Thị Lan", "1995-12-25", "female", "2023-08-08"), ALL_OK),
    Case("tuan_revoked", full(TUAN, "Vũ Minh Tuấn", "2000-07-19", "male", "2024-02-02"),
         expect(EXACT, D_EXACT, G_OK, "revoked", ("card_revoked",))),
    Case("huy_superseded_leap", full(HUY, "Dương Quang Huy", "2000-02-29", "male", "2016-08-01"),
         expect(EXACT, D_EXACT, G_OK, "superseded", ("card_superseded",))),
    Case("huy_current_leap", full(HUY, "Duong Quang Huy", "2000-02-29", "male", "2025-02-20"),
         expect(FOLDED, D_EXACT, G_OK, "valid")),
    Case("nam_former_never_expires",
         full(NAM_CMND, "Trương Văn Nam", "1966-10-10", "male", "2024-10-11"), ALL_OK),
    Case("nam_qr_with_former",
         {"qr": f"{NAM}|{NAM_CMND}|TRƯƠNG VĂN NAM|10101966|Nam|Phan Thiết|11102024"}, ALL_OK),
    Case("phuong_expired_at_60",
         full(PHUONG, "Huỳnh Thị Kim Phương", "1962-05-20", "female", "2019-06-01"),
         expect(EXACT, D_EXACT, G_OK, "expired", ("card_expired",))),
    Case("vinh_revoked_oldest", {"id_number": VINH, "card_issue_date": "2016-03-03"},
         expect(card="revoked", reasons=("card_revoked",))),
    Case("vinh_superseded_middle", {"id_number": VINH, "card_issue_date": "2019-04-04"},
         expect(card="superseded", reasons=("card_superseded",))),
    Case("vinh_second_former", full(VINH_CMND, "Tạ Quang Vinh", "1985-01-01", "male",
                                    "2025-01-10"), ALL_OK),
    Case("vinh_first_former", {"id_number": VINH_CMND_OLD, "full_name": "Ta Quang Vinh"},
         expect(FOLDED)),
    Case("oanh_child_card", full(OANH, "Kiều Thị Oanh", "2010-01-15", "female", "2024-06-01"),
         ALL_OK),
    # deceased
    Case("mai_deceased", full(MAI, "Bùi Thị Mai", "1940-06-01", "female", "2016-10-10"),
         expect(EXACT, D_EXACT, G_OK, "valid", ("deceased",))),
    Case("mai_deceased_former_wrong_name", {"id_number": MAI_CMND, "full_name": "Bùi Thị Lan"},
         expect(N_NO, reasons=("full_name", "deceased"))),
    # a child without a card
    Case("bao_child", full(BAO, "Ngô Gia Bảo", "2015-04-12", "male"),
         expect(EXACT, D_EXACT, G_OK)),
    Case("bao_child_card_claimed", {"id_number": BAO, "card_issue_date": "2023-01-01"},
         expect(card="unknown_card", reasons=("card_unknown",))),
    # dates: swapped day and month, year-only register
    Case("anh_day_month_swapped", {"id_number": ANH, "date_of_birth": "1988-07-04"},
         expect(dob=D_SWAP, reasons=("date_of_birth",))),
    Case("anh_swap_accepted",
         {"id_number": ANH, "date_of_birth": "1988-07-04", "accept_partial": True},
         expect(dob=D_SWAP)),
    Case("anh_qr_swapped", {"qr": f"{ANH}||Đỗ Thị Ngọc Ánh|04071988|Nữ"},
         expect(EXACT, D_SWAP, G_OK, reasons=("date_of_birth",))),
    Case("thu_register_year_only", full(THU, "Lê Thị Thu", "1952-06-15", "female", "2022-01-05"),
         expect(EXACT, D_YEAR, G_OK, "valid")),
    Case("thu_both_year_only", {"id_number": THU, "date_of_birth": "1952"}, expect(dob=D_EXACT)),
    Case("thu_wrong_year", {"id_number": THU, "date_of_birth": "1953-01-01"},
         expect(dob=D_NO, reasons=("date_of_birth",))),
    Case("dong_year_only_ascii", full(DONG, "LAM VAN DONG", "1960", "male", "2021-07-07"),
         expect(FOLDED, D_EXACT, G_OK, "valid")),
    # others
    Case("hong_born_abroad", full(HONG, "Nguyễn Thị Hồng", "1993-09-09", "female"),
         expect(EXACT, D_EXACT, G_OK)),
    Case("xuan_partly_unaccented", {"id_number": XUAN, "full_name": "Dinh Thi Thanh Xuân"},
         expect(MARKS, reasons=("full_name",))),
    Case("xuan_given_first", {"id_number": XUAN, "full_name": "Thanh Xuân Đinh Thị"},
         expect(REORDERED, reasons=("full_name",))),
    Case("tuan_marks_differ", {"id_number": TUAN, "full_name": "Vũ Minh Tuân"},
         expect(MARKS, reasons=("full_name",))),
    Case("thu_thu_vs_thu_horn", {"id_number": THU, "full_name": "Lê Thị Thư"},
         expect(MARKS, reasons=("full_name",))),
    Case("xuan_card_day_after_issue", {"id_number": XUAN, "card_issue_date": "2021-12-31"},
         expect(card="unknown_card", reasons=("card_unknown",))),
    # not found
    Case("unknown_id", full("001099000001", "Nguyễn Văn An", "1999-01-01", "male"), NOT_FOUND),
    Case("unknown_former_id", {"id_number": "999999999", "gender": "male"}, NOT_FOUND),
    Case("unknown_qr", {"qr": "079303000001||Lê Thị Thu|01012003|Nữ"}, NOT_FOUND),
]  # fmt: skip

INVALID_CASES: list[InvalidCase] = [
    InvalidCase("not_an_object", ["id_number", AN], "invalid_request", None),
    InvalidCase("a_string", AN, "invalid_request", None),
    InvalidCase("empty_object", {}, "missing_field", "id_number"),
    InvalidCase("no_id", {"full_name": "Nguyễn Văn An"}, "missing_field", "id_number"),
    InvalidCase("null_id", {"id_number": None}, "missing_field", "id_number"),
    InvalidCase("short_id", {"id_number": "12345"}, "invalid_id_number", "id_number"),
    InvalidCase("numeric_id", {"id_number": 1203012345}, "invalid_id_number", "id_number"),
    InvalidCase("bad_province", {"id_number": "999203012345"}, "invalid_id_number", "id_number"),
    InvalidCase("fullwidth_id", {"id_number": FULLWIDTH_AN}, "invalid_id_number",
                "id_number"),
    InvalidCase("typo_key", {"id_number": AN, "date_of_brith": "2003-05-14"}, "unknown_field",
                "date_of_brith"),
    InvalidCase("feb_30", {"id_number": AN, "date_of_birth": "2003-02-30"}, "invalid_date",
                "date_of_birth"),
    InvalidCase("slashed_date", {"id_number": AN, "date_of_birth": "14/05/2003"}, "invalid_date",
                "date_of_birth"),
    InvalidCase("year_too_old", {"id_number": AN, "date_of_birth": "1849"}, "invalid_date",
                "date_of_birth"),
    InvalidCase("arabic_digits", {"id_number": AN, "date_of_birth": "٢٠٠٣"}, "invalid_date",
                "date_of_birth"),
    InvalidCase("numeric_date", {"id_number": AN, "date_of_birth": 2003}, "invalid_date",
                "date_of_birth"),
    InvalidCase("card_year_only", {"id_number": AN, "card_issue_date": "2021"}, "invalid_date",
                "card_issue_date"),
    InvalidCase("gender_m", {"id_number": AN, "gender": "m"}, "invalid_field", "gender"),
    InvalidCase("gender_bool", {"id_number": AN, "gender": True}, "invalid_field", "gender"),
    InvalidCase("empty_name", {"id_number": AN, "full_name": ""}, "invalid_field", "full_name"),
    InvalidCase("blank_name", {"id_number": AN, "full_name": " \t "}, "invalid_field",
                "full_name"),
    InvalidCase("long_name", {"id_number": AN, "full_name": "A" * 201}, "invalid_field",
                "full_name"),
    InvalidCase("numeric_name", {"id_number": AN, "full_name": 123}, "invalid_field", "full_name"),
    InvalidCase("purpose_space", {"id_number": AN, "purpose": "airport checkin"},
                "invalid_field", "purpose"),
    InvalidCase("purpose_long", {"id_number": AN, "purpose": "p" * 65}, "invalid_field",
                "purpose"),
    InvalidCase("reference_long", {"id_number": AN, "reference": "r" * 129}, "invalid_field",
                "reference"),
    InvalidCase("accept_partial_str", {"id_number": AN, "accept_partial": "yes"},
                "invalid_field", "accept_partial"),
    InvalidCase("qr_and_id", {"qr": AN_QR, "id_number": AN}, "invalid_request", "id_number"),
    InvalidCase("qr_and_name", {"qr": AN_QR, "full_name": "Nguyễn Văn An"}, "invalid_request",
                "full_name"),
    InvalidCase("qr_number", {"qr": 123}, "invalid_qr", "qr"),
    InvalidCase("qr_no_separator", {"qr": AN}, "invalid_qr", "qr"),
    InvalidCase("id_only", {"id_number": AN}, "nothing_to_verify", None),
    InvalidCase("id_only_with_context",
                {"id_number": AN, "purpose": "kyc", "accept_partial": True, "require_card": True},
                "nothing_to_verify", None),
    InvalidCase("qr_id_only", {"qr": f"{AN}|"}, "nothing_to_verify", "qr"),
    InvalidCase("qr_id_and_former_only", {"qr": f"{AN}|{AN_CMND}||||Hà Nội"},
                "nothing_to_verify", "qr"),
    InvalidCase("name_with_nul", {"id_number": AN, "full_name": "Nguyễn\x00Văn An"},
                "invalid_field", "full_name"),
    InvalidCase("name_with_bidi_override", {"id_number": AN, "full_name": "Nguyễn \u202eAn"},
                "invalid_field", "full_name"),
    InvalidCase("booking_name_zero_width", {"id_number": AN, "booking_name": "NGUYEN\u200b/AN"},
                "invalid_field", "booking_name"),
    InvalidCase("require_card_string", {"id_number": AN, "gender": "male", "require_card": 1},
                "invalid_field", "require_card"),
    InvalidCase("terminal_too_long", {"id_number": AN, "gender": "male", "terminal": "t" * 65},
                "invalid_field", "terminal"),
    InvalidCase("terminal_control", {"id_number": AN, "gender": "male", "terminal": "A\x07"},
                "invalid_field", "terminal"),
    InvalidCase("qr_bad_id", {"qr": "12345|" + AN_QR.partition("|")[2]}, "invalid_id_number",
                "qr"),
    InvalidCase("qr_former_in_id_field", {"qr": f"{AN_CMND}||Nguyễn Văn An"},
                "invalid_id_number", "qr"),
    InvalidCase("qr_bad_former", {"qr": f"{AN}|12345|Nguyễn Văn An"}, "invalid_qr", "qr"),
    InvalidCase("qr_bad_birth", {"qr": f"{AN}||Nguyễn Văn An|31022003|Nam"}, "invalid_date", "qr"),
    InvalidCase("qr_iso_birth", {"qr": f"{AN}||Nguyễn Văn An|2003-05-14|Nam"}, "invalid_date",
                "qr"),
    InvalidCase("qr_bad_gender", {"qr": f"{AN}||Nguyễn Văn An|14052003|Male"}, "invalid_qr", "qr"),
    InvalidCase("qr_too_long", {"qr": f"{AN}||Nguyễn Văn An|14052003|Nam|{'x' * 1024}"},
                "invalid_qr", "qr"),
]  # fmt: skip

CASES_BY_NAME = {case.name: case for case in CASES}
INVALID_BY_NAME = {case.name: case for case in INVALID_CASES}

# /v1/verify/batch: results in order; an invalid item gets its problem (code, field) in place.
BATCH_ITEMS: list[Case | InvalidCase] = [
    CASES_BY_NAME["an_all_fields"],
    INVALID_BY_NAME["typo_key"],
    CASES_BY_NAME["unknown_id"],
    INVALID_BY_NAME["not_an_object"],
    CASES_BY_NAME["an_qr"],
    CASES_BY_NAME["mai_deceased"],
    INVALID_BY_NAME["qr_bad_birth"],
    INVALID_BY_NAME["qr_id_only"],
    CASES_BY_NAME["an_booking_name_airline"],
    INVALID_BY_NAME["id_only"],
]
