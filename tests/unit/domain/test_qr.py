"""Reading the CCCD QR payload as a claim."""

from __future__ import annotations

import datetime as dt

import pytest

from verify.domain.errors import ValidationError
from verify.domain.model import Claim, Gender, PartialDate
from verify.domain.qr import build_qr, parse_qr

D = dt.date
ID = "001203012345"
NAME = "Nguyễn Văn An"
FULL = Claim(ID, NAME, PartialDate(D(2003, 5, 14)), Gender.MALE, D(2021, 7, 1))
PAYLOAD = f"{ID}|012345678|{NAME}|14052003|Nam|Thôn 3, xã X, huyện Y, Hà Nội|01072021"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (PAYLOAD, FULL),
        (f"{ID}||{NAME}|14052003|Nam|Hà Nội|01072021", FULL),
        (f"\ufeff{PAYLOAD}\r\n", FULL),
        (f"{PAYLOAD}\n", FULL),
        (f"  {ID} |  | {NAME} | 14052003 | nam | Hà Nội | 01072021  ", FULL),
        (f"{ID}||{NAME}|14052003|Nam|", Claim(ID, NAME, FULL.birth, Gender.MALE)),
        (f"{ID}||{NAME}|14052003|Nam", Claim(ID, NAME, FULL.birth, Gender.MALE)),
        (f"{ID}||{NAME}|14052003", Claim(ID, NAME, FULL.birth)),
        (f"{ID}||{NAME}", Claim(ID, NAME)),
        (f"{ID}|012345678", Claim(ID)),
        (f"{ID}|", Claim(ID)),
        (f"{ID}||||||", Claim(ID)),
        (f"{ID}||NGUYEN  VAN AN", Claim(ID, "NGUYEN VAN AN")),
        (f"{ID}||{NAME}|14052003|Nữ", Claim(ID, NAME, FULL.birth, Gender.FEMALE)),
        (f"{ID}||{NAME}|14052003|NỮ", Claim(ID, NAME, FULL.birth, Gender.FEMALE)),
        (f"{ID}||{NAME}|14052003|Nu\u031b\u0303", Claim(ID, NAME, FULL.birth, Gender.FEMALE)),
        (f"{ID}||{NAME}||Nam", Claim(ID, NAME, None, Gender.MALE)),
        # typed by scanners: gender in any case and unaccented, the last field cut short,
        # fields after the seventh
        (f"{ID}||{NAME}|14052003|NU", Claim(ID, NAME, FULL.birth, Gender.FEMALE)),
        (f"{ID}||{NAME}|14052003|nu", Claim(ID, NAME, FULL.birth, Gender.FEMALE)),
        (f"{ID}||{NAME}|14052003|NAM", Claim(ID, NAME, FULL.birth, Gender.MALE)),
        (f"{ID}||{NAME}|14052003|Nam|Hà Nội|0107", Claim(ID, NAME, FULL.birth, Gender.MALE)),
        (f"{ID}||{NAME}|14052003|Nam|Hà Nội|1072021", Claim(ID, NAME, FULL.birth, Gender.MALE)),
        (f"{ID}||{NAME}|14052003|N", Claim(ID, NAME, FULL.birth)),
        (f"{ID}||{NAME}|1405", Claim(ID, NAME)),
        (f"{ID}|0123", Claim(ID)),
        (PAYLOAD + "|", FULL),
        (PAYLOAD + "|chip-v2|extra|more", FULL),
    ],
)
def test_parse_qr(payload: str, expected: Claim) -> None:
    assert parse_qr(payload) == expected


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (None, "invalid_qr"),
        (b"001203012345|", "invalid_qr"),
        ({"qr": PAYLOAD}, "invalid_qr"),
        ("", "invalid_qr"),
        (ID, "invalid_qr"),
        ("\ufeff", "invalid_qr"),
        (PAYLOAD.replace("|", "||"), "invalid_qr"),
        (f"{ID}||{NAME}|14052003|Nam|{'x' * 1000}", "invalid_qr"),
        (f"{ID}|12345678|{NAME}", "invalid_qr"),
        (f"{ID}|0123456789|{NAME}", "invalid_qr"),
        (f"{ID}|01234567a|{NAME}", "invalid_qr"),
        (f"{ID}||{NAME}|14052003|Male", "invalid_qr"),
        (f"{ID}||{NAME}|14052003|Nư", "invalid_qr"),
        (f"{ID}||{NAME}|14052003|Nam giới", "invalid_qr"),
        (f"{ID}||{NAME}|1405200|Nam", "invalid_date"),  # cut short, but not the last field
        (f"{ID}|0123|{NAME}", "invalid_qr"),
        (f"{ID}||Nguyễn\u200bVăn An|14052003", "invalid_qr"),
        (f"{ID}||Nguyễn\x00|14052003", "invalid_qr"),
        (f"{ID}||{'A' * 201}", "invalid_qr"),
        ("|012345678|Nguyễn Văn An", "invalid_id_number"),
        ("012345678||Nguyễn Văn An", "invalid_id_number"),
        ("999203012345||Nguyễn Văn An", "invalid_id_number"),
        ("00120301234|", "invalid_id_number"),
        (f"{ID}||{NAME}|30022003", "invalid_date"),
        (f"{ID}||{NAME}|2003-05-14", "invalid_date"),
        (f"{ID}||{NAME}|14052003|Nam|Hà Nội|01/07/2021", "invalid_date"),
    ],
)
def test_parse_qr_invalid(payload: object, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_qr(payload)
    assert (caught.value.code, caught.value.field) == (code, "qr")


def test_error_does_not_echo_the_payload() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_qr(f"{ID}||{NAME}|14052003|Bogus")
    assert "Bogus" not in str(caught.value)
    assert NAME not in caught.value.detail


def test_length_limit_is_on_the_whole_payload() -> None:
    payload = f"{ID}||{NAME}|14052003|Nam|"
    assert parse_qr(payload + "x" * (1024 - len(payload))).gender is Gender.MALE
    with pytest.raises(ValidationError):
        parse_qr(payload + "x" * (1025 - len(payload)))


@pytest.mark.parametrize(
    ("issue", "former", "expected"),
    [
        (D(2021, 7, 1), "012345678", PAYLOAD.replace("Thôn 3, xã X, huyện Y, Hà Nội", "Hà Nội")),
        (None, "", f"{ID}||{NAME}|14052003|Nam|Hà Nội"),
    ],
)
def test_build_qr(issue: dt.date | None, former: str, expected: str) -> None:
    built = build_qr(ID, NAME, D(2003, 5, 14), Gender.MALE, "Hà Nội", issue, former)
    assert built == expected


def test_build_qr_female_round_trip() -> None:
    built = build_qr(ID, "Trần Thị Hà", D(1990, 3, 8), Gender.FEMALE, "", D(2021, 4, 10))
    assert "|Nữ|" in built
    assert parse_qr(built) == Claim(
        ID, "Trần Thị Hà", PartialDate(D(1990, 3, 8)), Gender.FEMALE, D(2021, 4, 10)
    )
