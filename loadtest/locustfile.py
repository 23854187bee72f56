"""Locust scenarios for the users of DESIGN.md. Run through `make loadtest` (loadtest/run.py).

Environment (set by loadtest/run.py): LOADTEST_SAMPLE (the register sample file) and
one API key per kind of user: LOADTEST_KEY_AIRPORT, LOADTEST_KEY_AGENCY, LOADTEST_KEY_OFFICER.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from locust import FastHttpUser, between, task
from locust.contrib.fasthttp import ResponseContextManager

from loadtest.people import HotCold, airport_claim, back_office_claim, load_people, terminal_name

PEOPLE = HotCold(load_people(Path(os.environ["LOADTEST_SAMPLE"])))
BATCH_SIZES = (100, 1000)


def _check(response: ResponseContextManager, *ok: int) -> None:
    """A request fails when its status is unexpected; 'no match' is a result, not a failure."""
    if response.status_code not in ok:
        response.failure(  # type: ignore[no-untyped-call]
            f"HTTP {response.status_code}: {response.text[:200] if response.text else ''}"
        )
    else:
        response.success()  # type: ignore[no-untyped-call]


class _ApiUser(FastHttpUser):
    abstract = True
    key_env = ""
    connection_timeout = 5.0
    network_timeout = 10.0

    def on_start(self) -> None:
        self.rng = random.Random()
        self.auth = {"Authorization": f"Bearer {os.environ[self.key_env]}"}


class AirportCounter(_ApiUser):
    """A check-in agent scans the card's QR code (with the booking name when typed), reads the
    answer, calls the next traveller."""

    key_env = "LOADTEST_KEY_AIRPORT"
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        super().on_start()
        self.terminal = terminal_name(self.rng)  # each simulated agent works at one counter

    @task
    def scan_card(self) -> None:
        # what the /counter page sends: QR, require_card, terminal, often a booking name
        body = airport_claim(PEOPLE.pick(self.rng), self.rng, self.terminal)
        with self.client.post(
            "/v1/verify",
            json=body,
            headers=self.auth,
            name="airport: POST /v1/verify (QR)",
            catch_response=True,
        ) as response:
            _check(response, 200)


class AgencyBackOffice(_ApiUser):
    """A bank or ministry back office: batches of 100-1,000 records and one-off checks."""

    key_env = "LOADTEST_KEY_AGENCY"
    wait_time = between(0.5, 2.0)

    @task(1)
    def verify_batch(self) -> None:
        size = self.rng.randint(*BATCH_SIZES)
        items = [back_office_claim(PEOPLE.pick(self.rng), self.rng) for _ in range(size)]
        with self.client.post(
            "/v1/verify/batch",
            json={"items": items},
            headers=self.auth,
            name="back office: POST /v1/verify/batch (100-1000)",
            catch_response=True,
        ) as response:
            _check(response, 200)

    @task(6)
    def verify_one(self) -> None:
        body = back_office_claim(PEOPLE.pick(self.rng), self.rng)
        with self.client.post(
            "/v1/verify",
            json=body,
            headers=self.auth,
            name="back office: POST /v1/verify",
            catch_response=True,
        ) as response:
            _check(response, 200)


class CaseOfficer(_ApiUser):
    """An agency case officer looks up the attributes its mandate allows, with a purpose.

    Needs GET /v1/citizens/{id_number}: run.py runs this scenario only when the
    service's /openapi.json lists that route.
    """

    key_env = "LOADTEST_KEY_OFFICER"
    wait_time = between(1.0, 3.0)

    @task
    def look_up(self) -> None:
        person = PEOPLE.pick(self.rng)
        with self.client.get(
            f"/v1/citizens/{person.id_number}?purpose=case-{self.rng.randrange(10**6)}",
            headers=self.auth,
            name="case officer: GET /v1/citizens/{id_number}",
            catch_response=True,
        ) as response:
            _check(response, 200, 404)


class BackOfficeFlood(_ApiUser):
    """Back offices flooding the service: batches and single checks with no pause at all.

    Only in the ``flood`` scenario, next to AirportCounter: the counters must keep their
    latency while this lane is shed. A 503 ``overloaded`` or a 429 is the service doing
    its job here, not a failure; any other status is.
    """

    key_env = "LOADTEST_KEY_AGENCY"
    fixed_count = 24  # 3x the back_office scenario's users, with no think time

    def wait_time(self) -> float:
        return 0.0

    @task(1)
    def flood_batch(self) -> None:
        items = [back_office_claim(PEOPLE.pick(self.rng), self.rng) for _ in range(1000)]
        with self.client.post(
            "/v1/verify/batch",
            json={"items": items},
            headers=self.auth,
            name="flood: POST /v1/verify/batch (1000)",
            catch_response=True,
        ) as response:
            _check(response, 200, 429, 503)

    @task(3)
    def flood_one(self) -> None:
        body = back_office_claim(PEOPLE.pick(self.rng), self.rng)
        with self.client.post(
            "/v1/verify",
            json=body,
            headers=self.auth,
            name="flood: POST /v1/verify",
            catch_response=True,
        ) as response:
            _check(response, 200, 429, 503)
