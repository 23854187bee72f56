"""Reading a /v1/verify request body as a claim."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.cases import INVALID_CASES, InvalidCase
from verify.domain.claims import parse_claim
from verify.domain.errors import ValidationError
from verify.domain.model import Claim, Gender, PartialDate, Precision

D = dt.date
ID = "001203012345"
QR = f"{ID}||Nguyễn Văn An|14052003|Nam|Hà Nội|01072021"
MALE = Gender.MALE
Y2003 = PartialDate(D(2003, 1, 1), Precision.YEAR)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"id_number": ID, "gender": "male"}, Claim(ID, gender=MALE)),
        ({"id_number": "012345678", "date_of_birth": "2003"}, Claim("012345678", birth=Y2003)),
        ({"id_number": f" {ID} ", "gender": "male"}, Claim(ID, gender=MALE)),
        (
            {
                "id_number": ID,
                "full_name": "  Nguyễn  Văn An ",
                "date_of_birth": "2003-05-14",
                "gender": "male",
                "card_issue_date": "2021-07-01",
                "purpose": "airport_checkin",
                "reference": "PNR-4XK2",
                "accept_partial": True,
            },
            Claim(
                ID,
                "Nguyễn Văn An",
                PartialDate(D(2003, 5, 14)),
                Gender.MALE,
                D(2021, 7, 1),
                "airport_checkin",
                "PNR-4XK2",
                True,
            ),
        ),
        ({"id_number": ID, "date_of_birth": "2003"},
         Claim(ID, birth=PartialDate(D(2003, 1, 1), Precision.YEAR))),
        ({"id_number": ID, "gender": "FEMALE"}, Claim(ID, gender=Gender.FEMALE)),
        ({"id_number": ID, "gender": " Nam "}, Claim(ID, gender=Gender.MALE)),
        ({"id_number": ID, "gender": "nữ"}, Claim(ID, gender=Gender.FEMALE)),
        ({"id_number": ID, "gender": "Nu\u031b\u0303"}, Claim(ID, gender=Gender.FEMALE)),
        ({"id_number": ID, "gender": "male", "accept_partial": False}, Claim(ID, gender=MALE)),
        ({"id_number": ID, "gender": "male", "purpose": "a.b:c-d_9"},
         Claim(ID, gender=MALE, purpose="a.b:c-d_9")),
        ({"id_number": ID, "gender": "male", "purpose": "p" * 64},
         Claim(ID, gender=MALE, purpose="p" * 64)),
        ({"id_number": ID, "gender": "male", "reference": "r" * 128},
         Claim(ID, gender=MALE, reference="r" * 128)),
        ({"id_number": ID, "gender": "male", "reference": "Đơn số 5 / 2026"},
         Claim(ID, gender=MALE, reference="Đơn số 5 / 2026")),
        (
            {"id_number": ID, "full_name": None, "date_of_birth": None, "gender": None,
             "card_issue_date": None, "purpose": None, "reference": None, "accept_partial": None,
             "qr": None, "booking_name": "An", "require_card": None, "terminal": None},
            Claim(ID, booking_name="An"),
        ),
        (
            {"qr": QR},
            Claim(ID, "Nguyễn Văn An", PartialDate(D(2003, 5, 14)), Gender.MALE, D(2021, 7, 1)),
        ),
        (
            {"qr": f"{ID}||||nu", "purpose": "kyc", "reference": "x", "accept_partial": True,
             "id_number": None, "full_name": None},
            Claim(ID, gender=Gender.FEMALE, purpose="kyc", reference="x", accept_partial=True),
        ),
        (
            {"qr": QR, "booking_name": " NGUYEN/VAN  AN MR", "require_card": True,
             "terminal": "SGN T1 counter 12"},
            Claim(ID, "Nguyễn Văn An", PartialDate(D(2003, 5, 14)), Gender.MALE, D(2021, 7, 1),
                  booking_name="NGUYEN/VAN AN MR", require_card=True,
                  terminal="SGN T1 counter 12"),
        ),
        ({"id_number": ID, "booking_name": "Nguyễn Văn An"},
         Claim(ID, booking_name="Nguyễn Văn An")),
        ({"id_number": ID, "card_issue_date": "2021-07-01", "require_card": False},
         Claim(ID, card_issue_date=D(2021, 7, 1))),
    ],
)  # fmt: skip
def test_parse_claim(body: dict[str, object], expected: Claim) -> None:
    assert parse_claim(body) == expected


@pytest.mark.parametrize("case", INVALID_CASES, ids=lambda case: case.name)
def test_invalid_bodies(case: InvalidCase) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_claim(case.body)
    assert (caught.value.code, caught.value.field) == (case.code, case.field)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (None, "invalid_request", None),
        (42, "invalid_request", None),
        ({1: ID}, "invalid_request", None),
        ({"id_number": ID, "x" * 500: 1}, "unknown_field", "x" * 64),
        ({"id_number": ID, "Full_Name": "An"}, "unknown_field", "Full_Name"),
        ({"id_number": ID, "purpose": ""}, "invalid_field", "purpose"),
        ({"id_number": ID, "purpose": "kiểm_tra"}, "invalid_field", "purpose"),
        ({"id_number": ID, "purpose": "ok\n"}, "invalid_field", "purpose"),
        ({"id_number": ID, "reference": ""}, "invalid_field", "reference"),
        ({"id_number": ID, "reference": 7}, "invalid_field", "reference"),
        ({"id_number": ID, "accept_partial": 1}, "invalid_field", "accept_partial"),
        ({"id_number": ID, "gender": "nu"}, "invalid_field", "gender"),
        ({"id_number": ID, "gender": ["male"]}, "invalid_field", "gender"),
        ({"qr": QR, "gender": "male"}, "invalid_request", "gender"),
        ({"qr": QR, "card_issue_date": "2021-07-01"}, "invalid_request", "card_issue_date"),
        ({"qr": QR, "purpose": "bad purpose"}, "invalid_field", "purpose"),
        ({"qr": ""}, "invalid_qr", "qr"),
    ],
)
def test_more_invalid_bodies(body: object, code: str, field: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_claim(body)
    assert (caught.value.code, caught.value.field) == (code, field)


@pytest.mark.parametrize(
    "body",
    [
        {"id_number": "0012030123456789"},
        {"id_number": ID, "full_name": "X" * 300},
        {"id_number": ID, "date_of_birth": "1988-31-12"},
        {"id_number": ID, "gender": "secretvalue"},
        {"id_number": ID, "reference": "secretvalue" * 20},
        {"qr": f"{ID}||secretvalue|14052003|Nam|addr|99999999"},
    ],
)
def test_messages_never_echo_values(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_claim(body)
    for value in body.values():
        assert str(value) not in caught.value.detail
    assert "secretvalue" not in caught.value.detail
