"""What the app's own /metrics say about a measured window: cache tiers, audit commits, DB batches.

Samples are read before and after the window and subtracted. With several worker
processes /metrics sums every worker's files, so one scrape covers them all.
A series the app does not expose (yet) is simply absent from the result.
"""

from __future__ import annotations

import urllib.request

Samples = dict[str, float]


def scrape(ops_url: str) -> Samples:
    """Every sample of /metrics (on the operations port), keyed by ``name{labels}``."""
    with urllib.request.urlopen(f"{ops_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples: Samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        try:
            samples[series] = float(value)
        except ValueError:
            continue
    return samples


def _delta(before: Samples, after: Samples, series: str) -> float | None:
    if series not in after:
        return None
    return after[series] - before.get(series, 0.0)


def _labels(series: str) -> dict[str, str]:
    inner = series[series.find("{") + 1 : series.rfind("}")]
    pairs = (part.split("=", 1) for part in inner.split(",") if "=" in part)
    return {k.strip(): v.strip().strip('"') for k, v in pairs}


def cache(before: Samples, after: Samples) -> dict[str, object]:
    """Lookups per tier and result; hit ratio = (L1 + Redis hits) / (hits + Redis misses)."""
    by: dict[str, int] = {}
    for series in after:
        if series.startswith("verify_cache_requests_total{"):
            labels = _labels(series)
            by[f"{labels.get('tier')}:{labels.get('result')}"] = round(
                after[series] - before.get(series, 0.0)
            )
    if not by:  # caches off, or a build without the cache layer
        return {"lookups_by_tier_result": {}, "hit_ratio": None}
    hits = sum(v for k, v in by.items() if k.endswith(("hit", "negative_hit")))
    misses = by.get("redis:miss", 0)
    return {
        "lookups_by_tier_result": by,
        "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
    }


def _mean(before: Samples, after: Samples, name: str) -> tuple[float, float] | None:
    total = _delta(before, after, f"{name}_sum")
    count = _delta(before, after, f"{name}_count")
    if total is None or not count:
        return None
    return total / count, count


def pipeline(before: Samples, after: Samples, seconds: float) -> dict[str, object]:
    """Audit group commits (rows per commit, mean duration), Postgres lookup batches, and
    whether the domain ran compiled (verify/native.py)."""
    found: dict[str, object] = {}
    commit = _mean(before, after, "verify_audit_commit_seconds")
    rows = _delta(before, after, "verify_audit_rows_total")
    if commit is not None and rows is not None:
        mean_s, count = commit
        found["audit_commits_per_s"] = round(count / seconds, 1)
        found["audit_rows_per_commit"] = round(rows / count, 1)
        found["audit_commit_mean_ms"] = round(mean_s * 1000, 2)
    batch = _mean(before, after, "verify_db_batch_size")
    if batch is not None:
        found["db_queries_per_s"] = round(batch[1] / seconds, 1)
        found["db_ids_per_query"] = round(batch[0], 1)
    query = _mean(before, after, "verify_db_query_seconds")
    if query is not None:
        found["db_query_mean_ms"] = round(query[0] * 1000, 2)
    for limiter in ("attempts", "rate"):  # charges Redis did not decide in time
        local = _delta(
            before, after, f'verify_limiter_local_decisions_total{{limiter="{limiter}"}}'
        )
        if local is not None:
            found[f"{limiter}_local_decisions"] = round(local)
    compiled = after.get("verify_domain_compiled")  # which build of verify/domain served
    if compiled is not None:
        found["domain_compiled"] = bool(compiled)
    return found
