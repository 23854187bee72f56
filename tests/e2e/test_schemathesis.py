"""schemathesis against the live app: no 5xx and no disagreement with /openapi.json.

Every check (`--checks all`) on positive and negative examples of every operation,
NDJSON bodies included (tests/e2e/schemathesis_hooks.py), bounded in examples and time.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.e2e.conftest import Client

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MAX_EXAMPLES = os.environ.get("VERIFY_SCHEMATHESIS_EXAMPLES", "20")


async def test_schemathesis_finds_nothing(client: Client, token: str, tmp_path: Path) -> None:
    url = f"http://{client.host}:{client.port}"
    cli = Path(sys.executable).parent / "schemathesis"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
           "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        str(cli), "--config-file", str(HERE / "schemathesis.toml"), "run", f"{url}/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", "all", "--max-examples", MAX_EXAMPLES, "--seed", "1",
        "--workers", "1", "--max-time", "75", "--request-timeout", "10",
        "--phases", "examples,coverage,fuzzing",
        "--report-dir", str(tmp_path), "--warnings", "off",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=150)
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-12000:]
