"""Claims drawn from the register sample: a Zipf-like hot set, a cold tail, unknown IDs.

Pure and gevent-safe (no asyncio): imported by the locustfile.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Person:
    id_number: str
    full_name: str
    birth: str  # YYYY-MM-DD
    year_only: bool
    gender: str  # male / female
    address: str
    card_issue: str | None


def load_people(path: Path) -> list[Person]:
    people = [Person(**row) for row in json.loads(path.read_text())]
    if not people:
        raise ValueError(f"{path}: the register sample is empty (seed the register first)")
    return people


class HotCold:
    """A few people are verified again and again (hot, Zipf weights); the rest rarely (cold)."""

    def __init__(
        self, people: list[Person], *, hot: int = 1000, hot_share: float = 0.8, zipf_s: float = 1.1
    ) -> None:
        self._hot = people[: min(hot, len(people) // 2 or 1)]
        self._cold = people[len(self._hot) :] or self._hot
        weights = [1 / (rank**zipf_s) for rank in range(1, len(self._hot) + 1)]
        self._cumulative = list(itertools.accumulate(weights))
        self._hot_share = hot_share

    def pick(self, rng: random.Random) -> Person:
        if rng.random() < self._hot_share:
            x = rng.random() * self._cumulative[-1]
            return self._hot[bisect.bisect_left(self._cumulative, x)]
        return rng.choice(self._cold)


def unknown_id(person: Person, rng: random.Random) -> str:
    """A well-formed ID (real province, century and year digits) that is almost surely unused."""
    return person.id_number[:6] + f"{rng.randrange(10**6):06d}"


def ascii_fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _dob(person: Person) -> str:
    return person.birth[:4] if person.year_only else person.birth


def claim(person: Person, *, purpose: str) -> dict[str, object]:
    """The claim a person's own documents make: expected to match."""
    body: dict[str, object] = {
        "id_number": person.id_number,
        "full_name": person.full_name,
        "date_of_birth": _dob(person),
        "gender": person.gender,
        "purpose": purpose,
    }
    if person.card_issue is not None:
        body["card_issue_date"] = person.card_issue
    return body


def _swap_day_month(birth: str) -> str:
    year, month, day = birth.split("-")
    return (
        f"{year}-{day}-{month}"
        if int(day) <= 12 and day != month
        else f"{int(year) - 1}-{month}-{day}"
    )


# What an agency's own database holds for the people it checks: mostly right, some stale.
_BACK_OFFICE_MIX = (
    ("match", 0.80),
    ("ascii", 0.05),  # name stored without diacritics: still a match
    ("wrong_name", 0.05),
    ("wrong_birth", 0.05),
    ("unknown", 0.05),  # an ID that is not in the register
)
_KINDS = [kind for kind, _ in _BACK_OFFICE_MIX]
_WEIGHTS = [weight for _, weight in _BACK_OFFICE_MIX]


def back_office_claim(person: Person, rng: random.Random) -> dict[str, object]:
    body = claim(person, purpose="kyc_refresh")
    kind = rng.choices(_KINDS, _WEIGHTS)[0]
    if kind == "ascii":
        body["full_name"] = ascii_fold(person.full_name)
    elif kind == "wrong_name":
        body["full_name"] = person.full_name.rsplit(" ", 1)[0] + " Thị Bình"
    elif kind == "wrong_birth" and not person.year_only:
        body["date_of_birth"] = _swap_day_month(person.birth)
    elif kind == "unknown":
        body["id_number"] = unknown_id(person, rng)
    return body


def qr_payload(person: Person) -> str:
    """The text of the person's card QR code: id|former|name|DDMMYYYY|Nam/Nữ|address|DDMMYYYY."""
    gender = "Nam" if person.gender == "male" else "Nữ"
    fields = [person.id_number, "", person.full_name, _ddmmyyyy(person.birth), gender]
    fields.append(person.address.replace("|", " "))
    if person.card_issue is not None:
        fields.append(_ddmmyyyy(person.card_issue))
    return "|".join(fields)


def _ddmmyyyy(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}{month}{year}"


# An airline booking name: FAMILY/GIVEN NAMES TITLE, unaccented capitals (NGUYEN/VAN AN MR).
def booking_name(person: Person) -> str:
    family, *rest = ascii_fold(person.full_name).upper().split()
    title = "MR" if person.gender == "male" else "MS"
    return f"{family}/{' '.join(rest)} {title}".replace("/ ", "/")


# At the counter: most agents type the booking name, a few bookings belong to someone else.
_BOOKING_MIX = (("booking", 0.70), ("none", 0.28), ("other_booking", 0.02))


def airport_claim(person: Person, rng: random.Random, terminal: str) -> dict[str, object]:
    """What the counter page sends for a scan: the card's QR, the card required, the terminal."""
    body: dict[str, object] = {
        "qr": qr_payload(person),
        "require_card": True,
        "terminal": terminal,
        "purpose": "airport_checkin",
    }
    kind = rng.choices([k for k, _ in _BOOKING_MIX], [w for _, w in _BOOKING_MIX])[0]
    if kind == "booking":
        body["booking_name"] = booking_name(person)
    elif kind == "other_booking":
        body["booking_name"] = "TRAN/THI BINH MS"
    return body


def terminal_name(rng: random.Random) -> str:
    """A counter at one of the busy airports, e.g. SGN-T2-Q14."""
    airport = rng.choice(("SGN", "HAN", "DAD", "CXR", "PQC"))
    return f"{airport}-T{rng.randint(1, 2)}-Q{rng.randint(1, 40):02d}"
