from __future__ import annotations

import io
import logging

import orjson

from verify.logs import BatchingHandler, JsonFormatter


def _logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(f"test.{id(handler)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def test_lines_are_written_in_batches() -> None:
    out = io.StringIO()
    handler = BatchingHandler(out, max_bytes=10_000)
    handler.setFormatter(JsonFormatter())
    logger = _logger(handler)
    for n in range(3):
        logger.info("request", extra={"n": n, "route": "/v1/verify"})
    assert out.getvalue() == ""
    handler.flush()
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [line["n"] for line in lines] == [0, 1, 2]
    assert lines[0]["msg"] == "request" and lines[0]["level"] == "info"


def test_warnings_and_full_buffers_are_written_at_once() -> None:
    out = io.StringIO()
    handler = BatchingHandler(out, max_bytes=200)
    handler.setFormatter(JsonFormatter())
    logger = _logger(handler)
    logger.info("quiet")
    logger.warning("loud")
    assert out.getvalue().count("\n") == 2
    for _ in range(5):
        logger.info("filler", extra={"pad": "x" * 50})
    assert out.getvalue().count("\n") > 2
