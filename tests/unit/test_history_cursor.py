from __future__ import annotations

import base64 as b

import pytest

from verify.domain.errors import ValidationError
from verify.service.attributes import decode_cursor


def test_history_cursors_out_of_range_are_invalid() -> None:
    for raw in ("2026-01-01T00:00:00+00:00|99999999999999999999", "0001-01-01T00:00+05:00|1",
                "2026-01-01T00:00:00|1", "x|1", "nothing"):  # fmt: skip
        cursor = b.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        with pytest.raises(ValidationError):
            decode_cursor(cursor)
    ok = b.urlsafe_b64encode(b"2026-01-01T07:00:00+07:00|5").decode().rstrip("=")
    assert decode_cursor(ok)[1] == 5
