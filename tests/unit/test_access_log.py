"""Which requests get an access line: errors and slow ones always, a sample of the rest."""

from __future__ import annotations

from verify.http.accesslog import SLOW_S, AccessLogPolicy


def _wanted(policy: AccessLogPolicy, n: int, status: int = 200, elapsed: float = 0.001) -> int:
    return sum(policy.wanted(status, elapsed) for _ in range(n))


def test_errors_mode_logs_errors_and_slow_requests_only() -> None:
    policy = AccessLogPolicy("errors")
    assert _wanted(policy, 1000) == 0
    assert _wanted(policy, 3, status=429) == 3 and _wanted(policy, 2, status=503) == 2
    assert _wanted(policy, 2, elapsed=SLOW_S) == 2


def test_a_sample_of_one_in_n_besides_the_errors() -> None:
    policy = AccessLogPolicy("sample:100")
    assert _wanted(policy, 1000) == 10
    assert _wanted(policy, 5, status=401) == 5


def test_all_mode_logs_everything() -> None:
    assert _wanted(AccessLogPolicy("all"), 50) == 50
