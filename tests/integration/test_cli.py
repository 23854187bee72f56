"""The `verify` command line against the test database, in process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import b64
from verify.cli import main
from verify.settings import Settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path) -> None:
    monkeypatch.setenv("VERIFY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("VERIFY_ADMIN_DATABASE_URL", settings.owner_database_url)
    monkeypatch.setenv("VERIFY_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("VERIFY_HMAC_KEY", b64(settings.hmac_key))
    monkeypatch.setenv("VERIFY_CACHE_KEY", b64(settings.cache_key))
    monkeypatch.setenv("VERIFY_DATA_DIR", str(tmp_path / "data"))


def test_migrate_is_idempotent(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert "schema up to date" in capsys.readouterr().out


def test_keys_create_prints_the_key_last_and_revoke(
    env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "--agency", "bank", "--scopes", "verify", "--rate", "5"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    match = re.fullmatch(r"cv_([0-9a-f]{16})_[A-Za-z0-9_-]{43}", last)
    assert match
    assert main(["keys", "revoke", match.group(1)]) == 0
    assert main(["keys", "revoke", match.group(1)]) == 1


def test_unknown_scope_is_a_clear_error(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--agency", "x", "--scopes", "verify,admin"]) == 2
    assert "unknown scopes ['admin']" in capsys.readouterr().err


def test_load_reports_bad_rows_by_line(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "citizens.csv"
    csv.write_text(
        "id_number,full_name,date_of_birth,gender,status,former_id,province_code,address\n"
        "001090000001,Nguyễn Văn A,1990-01-02,male,living,,001,Hà Nội\n"
        "001090000002,Nguyễn Văn B,1990-02-30,male,living,,001,Hà Nội\n",
        encoding="utf-8",
    )
    assert main(["load", "--citizens", str(csv)]) == 1
    captured = capsys.readouterr()
    assert "citizens.csv:3: date_of_birth" in captured.err
    assert "1990-02-30" not in captured.err
    assert "loaded 1 citizens" in captured.out


def test_load_without_files_or_with_a_missing_file(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load"]) == 2
    assert main(["load", "--citizens", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_seed_if_empty_and_maintenance(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed", "--count", "500", "--seed", "3"]) == 0
    assert main(["seed", "--count", "500", "--seed", "3", "--if-empty"]) == 0
    assert "seed skipped" in capsys.readouterr().out
    assert main(["seed", "--count", "500", "--seed", "3"]) == 2
    assert main(["maintenance"]) == 0
    out = capsys.readouterr().out
    assert "audit partitions" in out
    assert "bulk jobs: 0 finished more than 7 days ago deleted" in out  # retention ran


def test_missing_settings_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("VERIFY_DATABASE_URL", raising=False)
    monkeypatch.delenv("VERIFY_ADMIN_DATABASE_URL", raising=False)
    assert main(["migrate"]) == 2
    assert "VERIFY_DATABASE_URL is not set" in capsys.readouterr().err


def test_dev_status_when_stopped(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dev", "status"]) == 1
    assert main(["dev", "env"]) == 2
    assert "verify dev up" in capsys.readouterr().err


def test_rate_and_burst_must_be_positive(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["keys", "create", "--agency", "x", "--scopes", "verify", "--rate", "0"])
    assert "must be a positive whole number" in capsys.readouterr().err
    assert main(["keys", "create", "--agency", "x", "--scopes", "verify", "--burst", "5"]) == 2


def _created(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    token = capsys.readouterr().out.strip().splitlines()[-1]
    match = re.fullmatch(r"cv_([0-9a-f]{16})_([A-Za-z0-9_-]{43})", token)
    assert match
    return match.group(1), match.group(2)


def test_keys_get_a_default_rate_purposes_expiry_and_are_listed_without_secrets(
    env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    create = ["keys", "create", "--agency", "airline", "--scopes", "verify"]
    assert main([*create, "--purposes", "airport_checkin,boarding", "--expires", "2999-01-01"]) == 0
    key_id, secret = _created(capsys)
    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert secret not in listed
    line = next(x for x in listed.splitlines() if x.startswith(key_id))
    cells = line.split()
    assert cells[1:6] == ["airline", "verify", "airport_checkin,boarding", "100", "200"]
    assert "2999-01-01" in line
    assert main(["keys", "set-rate", key_id, "7"]) == 0
    assert main(["keys", "set-rate", "0000000000000000", "7"]) == 1
    capsys.readouterr()
    assert main(["keys", "list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(key_id))
    assert line.split()[4:6] == ["7", "14"]


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (["--purposes", "Marketing"], "lowercase identifiers"),
        (["--purposes", ","], "at least one purpose"),
        (["--expires", "2000-01-01"], "in the future"),
    ],
)
def test_bad_purposes_or_expiry_are_clear_errors(
    env: None, capsys: pytest.CaptureFixture[str], extra: list[str], error: str
) -> None:
    assert main(["keys", "create", "--agency", "x", "--scopes", "verify", *extra]) == 2
    assert error in capsys.readouterr().err


def test_the_default_key_rate_is_a_setting(
    env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VERIFY_DEFAULT_KEY_RATE", "3")
    assert main(["keys", "create", "--agency", "x", "--scopes", "verify"]) == 0
    assert "rate 3/s burst 6" in capsys.readouterr().out


async def test_dev_up_makes_the_serving_role_and_env_prints_both_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    import asyncpg

    monkeypatch.setenv("VERIFY_DATA_DIR", str(tmp_path / "dev"))
    assert await asyncio.to_thread(main, ["dev", "up", "--quiet"]) == 0
    try:
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in capsys.readouterr().out.splitlines()
        )
        for name, value in exports.items():
            monkeypatch.setenv(name, value)
        serving, owner = exports["VERIFY_DATABASE_URL"], exports["VERIFY_ADMIN_DATABASE_URL"]
        assert serving.startswith("postgresql://verify_app:") and serving != owner
        password = (tmp_path / "dev" / "serving-role.password").read_text()
        assert f"verify_app:{password}@" in serving
        assert (tmp_path / "dev" / "serving-role.password").stat().st_mode & 0o077 == 0
        assert await asyncio.to_thread(main, ["migrate"]) == 0
        conn = await asyncpg.connect(serving, timeout=10)
        try:
            assert await conn.fetchval("SELECT current_user") == "verify_app"
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("DELETE FROM audit_log")
        finally:
            await conn.close()
        assert await asyncio.to_thread(main, ["dev", "env"]) == 0
        assert f"export VERIFY_DATABASE_URL={serving}" in capsys.readouterr().out
    finally:
        await asyncio.to_thread(main, ["dev", "down"])
