"""Wire types of the citizen-verify API (v1), as TypedDicts mirroring the JSON contract.

Results are the decoded JSON itself (no copying into other objects): what the
server sends is what the caller reads, and a field added by a newer server is
kept rather than dropped.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict, TypeGuard

Verdict = Literal["match", "no_match", "not_found"]
FieldOutcome = Literal["match", "partial", "no_match", "not_provided"]
CardOutcome = Literal["valid", "expired", "revoked", "superseded", "unknown_card", "not_provided"]
JobState = Literal["queued", "running", "done", "failed", "cancelled"]


class Claim(TypedDict, total=False):
    """One identity claim: the fields (``id_number`` required) or the card's ``qr`` payload."""

    id_number: str
    full_name: str
    date_of_birth: str  # YYYY-MM-DD or YYYY
    gender: str  # male / female (also Nam / Nữ)
    card_issue_date: str  # YYYY-MM-DD
    qr: str
    booking_name: str
    terminal: str
    purpose: str
    reference: str
    accept_partial: bool
    require_card: bool


class FieldResult(TypedDict):
    result: FieldOutcome
    rule: NotRequired[str]


class CardResult(TypedDict):
    result: CardOutcome


class Fields(TypedDict, total=False):
    full_name: FieldResult
    date_of_birth: FieldResult
    gender: FieldResult
    card: CardResult
    booking_name: FieldResult


class VerifyResult(TypedDict):
    verdict: Verdict
    fields: Fields
    reasons: list[str]
    reference: NotRequired[str | None]
    request_id: NotRequired[str]


class Problem(TypedDict):
    """An RFC 9457 problem: an error, or an item's problem in place of its result."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: NotRequired[str]
    index: NotRequired[int]  # batch item position (0-based)
    line: NotRequired[int]  # stream or job input line (1-based)


Result = VerifyResult | Problem


def is_problem(result: Result) -> TypeGuard[Problem]:
    """True when ``result`` is an item's problem rather than a verdict."""
    return "code" in result and "verdict" not in result


class JobCreated(TypedDict):
    job_id: str
    status_url: str
    results_url: str


class JobStatus(TypedDict):
    job_id: str
    state: JobState
    lines_total: int | None
    lines_done: int
    counts: NotRequired[dict[str, int]]  # by verdict (and "problem")
    created_at: NotRequired[str]
    started_at: NotRequired[str | None]
    finished_at: NotRequired[str | None]


class JobLine(TypedDict):
    """One line of a job's results: the input ``line`` number and its result or problem."""

    line: int
    verdict: NotRequired[Verdict]
    fields: NotRequired[Fields]
    reasons: NotRequired[list[str]]
    reference: NotRequired[str | None]
    code: NotRequired[str]
    detail: NotRequired[str]
    field: NotRequired[str]
    status: NotRequired[int]


FINAL_STATES: frozenset[str] = frozenset({"done", "failed", "cancelled"})
