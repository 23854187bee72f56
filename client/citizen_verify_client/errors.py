"""The client's errors: an API problem (problem+json) or a transport failure."""

from __future__ import annotations


class VerifyClientError(Exception):
    """Base of every error this client raises."""


class ApiError(VerifyClientError):
    """The server answered with an error (RFC 9457 problem+json), after any retries.

    ``code`` is the stable problem code (``rate_limited``, ``invalid_id_number``, ...),
    ``status`` the HTTP status. The message holds the server's ``detail``, which never
    echoes personal data.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.request_id = request_id
        self.retry_after = retry_after


class TransportError(VerifyClientError):
    """The server could not be reached or did not answer in time, after any retries."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class JobFailed(VerifyClientError):
    """A bulk job ended in ``failed`` or ``cancelled`` while it was awaited."""

    def __init__(self, job_id: str, state: str) -> None:
        super().__init__(f"job {job_id} ended {state}")
        self.job_id = job_id
        self.state = state
