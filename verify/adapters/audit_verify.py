"""`verify audit verify` and `verify audit heads`: recompute the audit's hash chains.

Run with the owner's URL. The rows are read in (chain, batch, seq) order in one
read-only snapshot; every batch's link is recomputed from the previous link and its
rows (verify/adapters/audit_chain.py) and compared with the link stored on its last row.
A changed, deleted or added row changes a batch's link, a deleted batch leaves a gap in
its chain's numbers, and a row outside any chain is named as such. A chain cut short at
its end is only visible against heads exported earlier and kept elsewhere
(``audit heads``, then ``audit verify --heads FILE``). A batch that a drop past retention
cut (a partition of the server's time zone, from before 006) is taken by the link the drop
recorded: what is left of it cannot be recomputed, the batches after it are.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import orjson

from verify.adapters.audit_chain import CANON_COLUMNS, ZERO_LINK, canonical, link
from verify.adapters.pg import Conn

# a time Python cannot hold (infinite, or past year 9999) is read as NULL and named, never
# a crash of the check: only an insert out of band writes one
_DATED = "(isfinite(at) AND at > '0001-01-02' AND at < '9999-12-31')"
_COLS = ", ".join(
    f"CASE WHEN {_DATED} THEN at END AS at" if c == "at" else c for c in CANON_COLUMNS
)
_ROWS_SQL = f"""
SELECT chain_id, chain_batch, chain_link, seq, {_COLS} FROM audit_log
WHERE at >= $1 AND at < $2
ORDER BY chain_id NULLS FIRST, chain_batch, seq
"""
# all days: every row, whatever its time (a row dated before 1970, after 9999 or at
# 'infinity' would otherwise never be checked: the serving role can insert one)
_ALL_ROWS_SQL = f"""
SELECT chain_id, chain_batch, chain_link, seq, {_COLS} FROM audit_log
ORDER BY chain_id NULLS FIRST, chain_batch, seq
"""
_BEFORE_SQL = """
SELECT chain_link FROM audit_log
WHERE chain_id = $1 AND chain_batch = $2 AND chain_link IS NOT NULL AND at < $3 AND at >= $4
"""
_DROPS_SQL = "SELECT day, heads, cut FROM audit_partition_drops ORDER BY day"
_HEADS_SQL = """
SELECT DISTINCT ON (day, chain_id) (at AT TIME ZONE 'UTC')::date AS day, chain_id,
       chain_batch, chain_link
FROM audit_log
WHERE chain_link IS NOT NULL AND at >= $1 AND at < $2
ORDER BY day, chain_id, chain_batch DESC
"""
_FAR_PAST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Break:
    chain: str  # the chain id, or "-" for a row in no chain
    batch: int  # the batch number (for a row in no chain: its seq)
    reason: str

    def __str__(self) -> str:
        return f"chain {self.chain} batch {self.batch}: {self.reason}"


@dataclass(frozen=True)
class Head:
    day: dt.date
    chain: str
    batch: int
    link: bytes

    def to_json(self) -> bytes:
        return orjson.dumps(
            {"day": self.day.isoformat(), "chain": self.chain, "batch": self.batch,
             "link": self.link.hex()}
        )  # fmt: skip

    @classmethod
    def from_json(cls, line: str) -> Head:
        raw = orjson.loads(line)
        return cls(
            dt.date.fromisoformat(raw["day"]), str(uuid.UUID(raw["chain"])), int(raw["batch"]),
            bytes.fromhex(raw["link"]),
        )  # fmt: skip


@dataclass
class Report:
    batches: int = 0
    rows: int = 0
    chains: int = 0
    cut: int = 0  # batches a retention drop cut, taken by the link recorded then
    breaks: list[Break] = field(default_factory=list)
    # the links of the batches named by exported heads (only those: a day has millions)
    wanted: set[tuple[str, int]] = field(default_factory=set, repr=False)
    seen: dict[tuple[str, int], bytes] = field(default_factory=dict, repr=False)

    @property
    def intact(self) -> bool:
        return not self.breaks


def day_range(day: dt.date | None) -> tuple[dt.datetime, dt.datetime]:
    if day is None:
        return _FAR_PAST, _FAR_FUTURE
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return start, start + dt.timedelta(days=1)


@dataclass
class _Batch:
    chain: str
    number: int
    canon: list[bytes] = field(default_factory=list)
    links: list[bytes | None] = field(default_factory=list)


async def _batches(
    conn: Conn, start: dt.datetime, end: dt.datetime, report: Report
) -> AsyncIterator[_Batch]:
    current: _Batch | None = None
    everything = (start, end) == (_FAR_PAST, _FAR_FUTURE)
    rows = (
        conn.cursor(_ALL_ROWS_SQL, prefetch=5000)
        if everything
        else conn.cursor(_ROWS_SQL, start, end, prefetch=5000)
    )
    async for r in rows:
        report.rows += 1
        if r["at"] is None:
            where = "-" if r["chain_id"] is None else str(r["chain_id"])
            report.breaks.append(
                Break(where, r["seq"], "a row dated outside any day (out of band)")
            )
            continue
        if r["chain_id"] is None:
            report.breaks.append(Break("-", r["seq"], "a row in no chain (added out of band)"))
            continue
        chain, number = str(r["chain_id"]), r["chain_batch"]
        if current is None or (current.chain, current.number) != (chain, number):
            if current is not None:
                yield current
            current = _Batch(chain, number)
        current.canon.append(canonical(tuple(r[c] for c in CANON_COLUMNS)))
        link_ = r["chain_link"]
        current.links.append(None if link_ is None else bytes(link_))
    if current is not None:
        yield current


Links = dict[str, dict[int, bytes]]  # chain -> batch -> link


class _Anchors:
    """The link before a chain's first batch in scope: batch 0 (the chain's start), the
    previous day's rows (with --day), or the heads recorded when a partition was dropped;
    and the batches a drop cut (``cuts``, migration 020), with their recorded links."""

    def __init__(self, conn: Conn, start: dt.datetime, drops: Links, cuts: Links) -> None:
        self._conn, self._start, self._drops, self.cuts = conn, start, drops, cuts

    @property
    def dropped(self) -> dict[str, dict[int, bytes]]:
        return self._drops

    async def before(self, chain: str, batch: int) -> bytes | None:
        if batch == 1:
            return ZERO_LINK
        dropped = self._drops.get(chain, {}).get(batch - 1)
        if dropped is not None:
            return dropped
        if self._start == _FAR_PAST:
            return None
        # the day before first (partition pruning), then anything earlier
        day_before = self._start - dt.timedelta(days=1)
        for lower in (day_before, _FAR_PAST):
            found = await self._conn.fetchval(
                _BEFORE_SQL, uuid.UUID(chain), batch - 1, self._start, lower
            )
            if found is not None:
                return bytes(found)
        return None


async def _dropped_heads(conn: Conn) -> tuple[Links, Links]:
    """The heads and the cut batches recorded by the drops past retention."""
    heads: Links = {}
    cuts: Links = {}
    for row in await conn.fetch(_DROPS_SQL):
        for column, links in (("heads", heads), ("cut", cuts)):
            for chain, head in orjson.loads(row[column]).items():
                if head["link"] is not None:
                    links.setdefault(chain, {})[int(head["batch"])] = bytes.fromhex(head["link"])
    return heads, cuts


def _check_cut(batch: _Batch, recorded: bytes) -> str | None:
    """The rest of a batch a drop cut: its rows cannot be recomputed without the dropped
    ones; its link, when its last row is still there, must be the one recorded."""
    *inner, stored = batch.links
    if any(x is not None for x in inner):
        return "a link inside the batch (its last row was deleted)"
    if stored is not None and stored != recorded:
        return "differs from the link recorded when the partition before it was dropped"
    return None


def _check(batch: _Batch, prev: bytes) -> tuple[bytes | None, str | None]:
    """The batch's recomputed link, and what is wrong with it (None: intact)."""
    expected = link(prev, uuid.UUID(batch.chain), batch.number, batch.canon)
    *inner, stored = batch.links
    if stored is None:
        return expected, "its last row carries no link (a row was added or the last deleted)"
    if any(x is not None for x in inner):
        return expected, "a link inside the batch (its last row was deleted)"
    if stored != expected:
        return expected, "the rows do not hash to the stored link (changed, deleted or added)"
    return expected, None


async def verify_audit(
    conn: Conn, day: dt.date | None = None, heads: Iterable[Head] = ()
) -> Report:
    """Recompute every chain of ``day`` (all days when None); check against ``heads``."""
    start, end = day_range(day)
    heads = list(heads)
    report = Report(wanted={(h.chain, h.batch) for h in heads})
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        anchors = _Anchors(conn, start, *await _dropped_heads(conn))
        broken: set[str] = set()
        last: dict[str, tuple[int, bytes]] = {}
        async for batch in _batches(conn, start, end, report):
            report.batches += 1
            if batch.chain in broken:
                continue
            reason = await _follow(batch, last, anchors, report)
            if reason is not None:
                broken.add(batch.chain)
                report.breaks.append(Break(batch.chain, batch.number, reason))
        report.chains = len(last) + len(broken - last.keys())
    _check_heads(report, heads, start, end, anchors.dropped)
    return report


async def _follow(
    batch: _Batch, last: dict[str, tuple[int, bytes]], anchors: _Anchors, report: Report
) -> str | None:
    previous = last.get(batch.chain)
    cut = anchors.cuts.get(batch.chain, {}).get(batch.number) if previous is None else None
    if cut is not None:  # the chain's first batch in scope, cut by a drop past retention
        reason = _check_cut(batch, cut)
        if reason is None:
            last[batch.chain] = (batch.number, cut)
            report.cut += 1
            if (batch.chain, batch.number) in report.wanted:
                report.seen[(batch.chain, batch.number)] = cut
        return reason
    if previous is None:
        prev = await anchors.before(batch.chain, batch.number)
        if prev is None:
            return f"batches 1 to {batch.number - 1} of this chain are missing"
    elif batch.number != previous[0] + 1:
        return f"batches {previous[0] + 1} to {batch.number - 1} are missing"
    else:
        prev = previous[1]
    expected, reason = _check(batch, prev)
    if reason is None and expected is not None:
        last[batch.chain] = (batch.number, expected)
        if (batch.chain, batch.number) in report.wanted:
            report.seen[(batch.chain, batch.number)] = expected
    return reason


def _check_heads(
    report: Report,
    heads: Iterable[Head],
    start: dt.datetime,
    end: dt.datetime,
    dropped: dict[str, dict[int, bytes]],
) -> None:
    """Every exported head in scope must still be there, with the same link (or, for a day
    dropped past retention, be the head recorded when it was dropped)."""
    for head in heads:
        at = dt.datetime.combine(head.day, dt.time(), dt.UTC)
        if not start <= at < end:
            continue
        found = report.seen.get((head.chain, head.batch))
        if found is None:
            found = dropped.get(head.chain, {}).get(head.batch)
        if found is None:
            reason = "an exported head is missing (the chain was cut short)"
            report.breaks.append(Break(head.chain, head.batch, reason))
        elif found != head.link:
            report.breaks.append(Break(head.chain, head.batch, "differs from the exported head"))


async def chain_heads(conn: Conn, day: dt.date | None = None) -> list[Head]:
    """Each day's last link of every chain (to keep a copy elsewhere)."""
    start, end = day_range(day)
    rows = await conn.fetch(_HEADS_SQL, start, end)
    return [
        Head(r["day"], str(r["chain_id"]), r["chain_batch"], bytes(r["chain_link"])) for r in rows
    ]
