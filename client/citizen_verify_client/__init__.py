"""Python client for the citizen-verify API: ``Client`` (sync) and ``AsyncClient``."""

from citizen_verify_client.aio import AsyncClient
from citizen_verify_client.client import Client
from citizen_verify_client.errors import ApiError, JobFailed, TransportError, VerifyClientError
from citizen_verify_client.retry import NO_RETRY, RetryPolicy
from citizen_verify_client.types import (
    Claim,
    JobCreated,
    JobLine,
    JobStatus,
    Problem,
    Result,
    VerifyResult,
    is_problem,
)

__all__ = [
    "NO_RETRY",
    "ApiError",
    "AsyncClient",
    "Claim",
    "Client",
    "JobCreated",
    "JobFailed",
    "JobLine",
    "JobStatus",
    "Problem",
    "Result",
    "RetryPolicy",
    "TransportError",
    "VerifyClientError",
    "VerifyResult",
    "is_problem",
]
