"""The client's jobs calls and resumption, against a fake of the jobs contract (DESIGN.md).

The jobs endpoints are built on another branch; these tests pin what the client
expects of them and how it rides out a 503 upload and a cut download.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest
from citizen_verify_client import Claim, Client, JobFailed, JobStatus, RetryPolicy
from citizen_verify_client.cli import main as cli_main

from tests.unit.client.fakeapi import FakeApi

FAST = RetryPolicy(attempts=4, backoff_s=0.001)
AN: Claim = {"id_number": "001203012345", "full_name": "Nguyễn Văn An"}
OTHER: Claim = {"id_number": "001203012345", "full_name": "Trần Văn Bình"}


def _client(api: FakeApi) -> Client:
    transport = httpx.MockTransport(api)
    return Client("http://fake", "secret", purpose="kyc", retry=FAST, transport=transport)


def test_submit_wait_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("citizen_verify_client._jobs.POLL_MIN_S", 0.001)
    upload = tmp_path / "claims.ndjson"
    upload.write_text("".join(json.dumps(c) + "\n" for c in [AN, OTHER] * 3), encoding="utf-8")
    api, seen = FakeApi(), list[JobStatus]()
    with _client(api) as client:
        job = client.jobs.submit(upload)
        final = client.jobs.wait(job["job_id"], progress=seen.append)
        lines = list(client.jobs.results(job["job_id"]))
        client.jobs.cancel(job["job_id"])
    assert len(api.uploads) == 2 and len(set(api.uploads)) == 1  # a retry keeps its key
    assert len(api.jobs) == 1 and final["state"] == "done"
    assert seen[0]["state"] == "queued" and seen[-1]["lines_done"] == 6
    assert api.results_reads == 2  # cut after two lines, resumed without repeating them
    assert [line["line"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert [line.get("verdict") for line in lines] == ["match", "no_match"] * 3


def test_wait_raises_when_the_job_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi(jobs={"j": []})
    monkeypatch.setattr(api, "_status", lambda job_id: {"job_id": job_id, "state": "failed"})
    with _client(api) as client, pytest.raises(JobFailed, match="failed"):
        client.jobs.wait("j")


def test_stream_window_cut_short_is_resumed() -> None:
    api = FakeApi()
    with _client(api) as client:
        results = list(client.stream([AN, OTHER] * 5))
    assert api.stream_calls == 2
    assert [r.get("verdict") for r in results] == ["match", "no_match"] * 5


def test_cli_job_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("citizen_verify_client._jobs.POLL_MIN_S", 0.001)
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    with source.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [["SoDinhDanh", "HoTen", "NgaySinh"]]
            + [[AN["id_number"], AN["full_name"], "14/05/2003"]] * 3
            + [[AN["id_number"], AN["full_name"], "bad"]]
            + [[OTHER["id_number"], OTHER["full_name"], ""]]
        )
    argv = ["check", "--in", str(source), "--out", str(out), "--purpose", "kyc", "--job",
            "--url", "http://fake", "--key", "secret", "--no-progress",
            "--map", "id_number=SoDinhDanh,full_name=HoTen,date_of_birth=NgaySinh"]  # fmt: skip
    api = FakeApi()
    assert cli_main(argv, transport=httpx.MockTransport(api)) == 0
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["line"], r["verdict"], r["problem"]) for r in rows] == [
        ("2", "match", ""),
        ("3", "match", ""),
        ("4", "match", ""),
        ("5", "", "invalid_date"),
        ("6", "no_match", ""),
    ]
    assert [c.get("date_of_birth") for c in api.jobs["job1"]] == ["2003-05-14"] * 3 + [None]
