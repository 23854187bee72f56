"""Fixtures of the operations tests: Prometheus binaries, the service as a subprocess.

promtool and prometheus come from Debian's ``prometheus`` package. Without them
these tests skip on a workstation, and fail in CI (``CI`` set), where .ci/run
installs them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import auth, client, loaded_db, ops_client, token  # noqa: F401 (fixtures)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed (Debian: apt-get install prometheus)"
    if _in_ci():
        pytest.fail(f"{message}; CI must run these tests")
    pytest.skip(message)


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_binary("promtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return require_binary("prometheus")


@pytest.fixture(scope="session")
def deploy_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "deploy"
