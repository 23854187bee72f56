"""Handlers: parse, call the service, map the answer. No SQL, no rules here."""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Sequence

import orjson
from aiohttp import web

from verify.domain.claims import parse_claim, parse_purpose
from verify.domain.errors import ValidationError
from verify.domain.model import Claim, Outcome
from verify.domain.verdict import outcome_to_json
from verify.errors import TooManyAttempts
from verify.http import ops
from verify.http.appkeys import LIMITER, METRICS, SETTINGS, VERIFY_DEPS
from verify.http.middleware import OBSERVER, PRINCIPAL, REQUEST_ID
from verify.http.ops import json_response
from verify.http.problems import problem_body
from verify.service.audit import RequestContext
from verify.service.auth import Principal, purpose_allowed
from verify.service.limits import charge, charge_rest, charged_now, items_at_least
from verify.service.verification import Answer, VerifyDeps, verify_audited


async def read_json(request: web.Request) -> object:
    raw = await request.read()
    if not raw:
        raise ValidationError("invalid_json", "the request body is empty")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationError("invalid_json", "the request body is not valid JSON") from None


def principal(request: web.Request, scope: str) -> Principal:
    who: Principal = request[PRINCIPAL]
    who.require(scope)
    return who


def answer(claim: Claim, outcome: Outcome) -> dict[str, object]:
    body = outcome_to_json(outcome)
    body["reference"] = claim.reference
    return body


def context(
    request: web.Request, who: Principal, kind: str, purpose: str | None = None,
    deps: VerifyDeps | None = None,
) -> RequestContext:  # fmt: skip
    """The request's audit context; ``purpose`` (a batch's or stream's own) must be the key's.
    ``deps``: the app's, when the caller has them at hand."""
    if purpose is not None:
        who.check_purpose(purpose)
    now = (deps or request.app[VERIFY_DEPS]).now()
    return RequestContext(
        who.agency_id, request[REQUEST_ID], kind, now, key_id=who.key_id,
        purpose=purpose or who.default_purpose, purposes=who.purposes,
    )  # fmt: skip


def top_purpose(raw: object) -> str | None:
    """A batch's or stream's purpose for its items (None: not given)."""
    return None if raw is None else parse_purpose(raw)


async def post_verify(request: web.Request) -> web.Response:
    who = principal(request, "verify")
    app = request.app
    deps = app[VERIFY_DEPS]
    ctx = context(request, who, "verify", deps=deps)
    limiter = app[LIMITER]  # charged before the body is read: refused keys cost nothing
    if not charged_now(who, 1, limiter):  # a busy key spends its lease: no await
        await charge_rest(who, 1, limiter)
    claim = parse_claim(await read_json(request))
    if claim.purpose is not None:
        who.check_purpose(claim.purpose)
    [outcome] = await verify_audited([claim], ctx, deps)
    if isinstance(outcome, TooManyAttempts):
        app[METRICS].attempts_refused.labels(who.agency_label).inc()
        raise outcome
    app[OBSERVER].verdicts("single", outcome.verdict.value)
    return json_response({"request_id": ctx.request_id, **answer(claim, outcome)})


def _batch_items(body: object, limit: int) -> list[object]:
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValidationError("invalid_request", 'the body must be {"items": [...]}', "items")
    if len(items) > limit:
        raise ValidationError("too_many_items", f"a batch holds at most {limit} items", "items")
    return items


Parsed = Claim | dict[str, object]  # a claim, or the problem object that takes its place


def parse_item(item: object, position: tuple[str, int], purposes: tuple[str, ...] = ()) -> Parsed:
    """A claim, or its problem object marked with its position (``index`` or ``line``);
    ``purposes``: the key's (a claim stating another gets 403 ``purpose_not_allowed``)."""
    try:
        claim = parse_claim(item)
    except ValidationError as e:
        return {position[0]: position[1], **problem_body(e.code, e.detail, e.field)}
    if not purpose_allowed(purposes, claim.purpose):
        return _purpose_problem(position)
    return claim


def _purpose_problem(position: tuple[str, int]) -> dict[str, object]:
    detail = "this API key may not be used for this purpose"
    return {position[0]: position[1], **problem_body("purpose_not_allowed", detail, "purpose")}


async def answer_all(
    app: web.Application,
    parsed: list[Parsed],
    ctx: RequestContext,
    positions: Sequence[tuple[str, int]] | None = None,
) -> list[dict[str, object]]:
    """Verify the claims among ``parsed`` together (one lookup, one audit commit), in order.

    A claim refused by the probing limit gets its problem in place, marked with its
    position (``positions``: ``("line", n)`` for a stream; default ``("index", i)``)."""
    claims = [p for p in parsed if isinstance(p, Claim)]
    outcomes = await verify_audited(claims, ctx, app[VERIFY_DEPS])
    _count(app, ctx, outcomes)
    return answer_all_items(parsed, outcomes, positions)


def answer_all_items(
    parsed: list[Parsed], outcomes: list[Answer], positions: Sequence[tuple[str, int]] | None = None
) -> list[dict[str, object]]:
    """The wire items of ``parsed``: each claim's answer (``outcomes`` in claim order) in
    place, the problems of the items that were not claims as they are. One loop with the
    answer inlined: this runs for every item of every batch."""
    answered = iter(outcomes)
    results: list[dict[str, object]] = []
    add = results.append
    for at, claim in enumerate(parsed):
        if not isinstance(claim, Claim):  # a problem object, in place already
            add(claim)
            continue
        outcome = next(answered)
        if isinstance(outcome, TooManyAttempts):
            add(_item(claim, outcome, positions[at] if positions else ("index", at)))
            continue
        body = outcome_to_json(outcome)
        body["reference"] = claim.reference
        add(body)
    return results


def _item(claim: Claim, outcome: Answer, position: tuple[str, int]) -> dict[str, object]:
    if not isinstance(outcome, TooManyAttempts):
        return answer(claim, outcome)
    body = {position[0]: position[1], **problem_body(outcome.code, outcome.detail)}
    if outcome.retry_after is not None:  # none when no wait would help (attempts_exceed_quota)
        body["retry_after"] = max(1, math.ceil(outcome.retry_after))
    if claim.reference is not None:
        body["reference"] = claim.reference
    return body


_verdict_of = operator.attrgetter("verdict")


def _count(app: web.Application, ctx: RequestContext, outcomes: list[Answer]) -> None:
    """Count the answers by verdict, and the refusals (rare: found by type, in C)."""
    types = Counter(map(type, outcomes))
    refused = sum(n for kind, n in types.items() if issubclass(kind, TooManyAttempts))
    if refused:
        app[METRICS].attempts_refused.labels(str(ctx.agency_id)).inc(refused)
        verdicts = Counter(o.verdict for o in outcomes if not isinstance(o, TooManyAttempts))
    else:
        verdicts = Counter(map(_verdict_of, outcomes))
    observer = app[OBSERVER]
    for verdict, n in verdicts.items():
        observer.verdicts(ctx.kind, verdict.value, n)


def parse_items(items: list[object], purposes: tuple[str, ...]) -> list[Parsed]:
    """``parse_item`` of each batch item at its ``index``, in one loop (no position tuple
    or call per item: this runs for every item of every batch)."""
    parsed: list[Parsed] = []
    add = parsed.append
    for index, item in enumerate(items):
        try:
            claim = parse_claim(item)
        except ValidationError as e:
            add({"index": index, **problem_body(e.code, e.detail, e.field)})
            continue
        if not purpose_allowed(purposes, claim.purpose):
            add(_purpose_problem(("index", index)))
            continue
        add(claim)
    return parsed


async def post_verify_batch(request: web.Request) -> web.Response:
    who = principal(request, "verify")
    app = request.app
    limit = app[SETTINGS].max_batch_items
    # charged before the body is read (the items it holds at least), then settled per item
    charged = items_at_least(request.content_length, limit)
    await charge(who, charged, app[LIMITER])
    body = await read_json(request)
    items = _batch_items(body, limit)
    purpose = top_purpose(body.get("purpose")) if isinstance(body, dict) else None
    ctx = context(request, who, "batch_item", purpose)
    await charge(who, len(items) - charged, app[LIMITER])
    parsed = parse_items(items, who.purposes)
    results = await answer_all(app, parsed, ctx)
    request_id: str = request[REQUEST_ID]
    return json_response({"request_id": request_id, "results": results})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/verify", post_verify)
    app.router.add_post("/v1/verify/batch", post_verify_batch)
    ops.add_routes(app)
