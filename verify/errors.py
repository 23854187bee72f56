"""Errors of the service and its adapters, each with a stable API ``code``.

The HTTP layer maps them to problem+json (verify/http/problems.py); nothing
below the HTTP layer knows about status codes.
"""

from __future__ import annotations

from verify.domain.errors import ValidationError

__all__ = [
    "AttemptsExceedQuota",
    "BodyTooLarge",
    "DatabaseUnavailable",
    "ForbiddenScope",
    "Overloaded",
    "PurposeNotAllowed",
    "RateLimited",
    "ServiceError",
    "TooManyAttempts",
    "Unauthorized",
    "ValidationError",
]


class ServiceError(Exception):
    code = "internal_error"

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class Unauthorized(ServiceError):
    code = "unauthorized"


class ForbiddenScope(ServiceError):
    code = "forbidden_scope"


class PurposeNotAllowed(ServiceError):
    code = "purpose_not_allowed"


class RateLimited(ServiceError):
    code = "rate_limited"


class TooManyAttempts(ServiceError):
    """Too many verify attempts on one person by one agency within a rolling day."""

    code = "too_many_attempts"


class AttemptsExceedQuota(TooManyAttempts):
    """More attempts on one person in one request than the rolling day allows at all:
    refused as a whole, and no wait would change that (so no ``retry_after``)."""

    code = "attempts_exceed_quota"


class Overloaded(ServiceError):
    code = "overloaded"


class DatabaseUnavailable(ServiceError):
    code = "database_unavailable"


class BodyTooLarge(ServiceError):
    code = "body_too_large"
