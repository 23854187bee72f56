"""schemathesis hooks (SCHEMATHESIS_HOOKS): NDJSON request and response bodies.

The stream's body is described as an array of claims, one NDJSON line per item. A
generated value that is not an array (negative testing) has no NDJSON form: it is sent
as a body without a line, which the schema and the server refuse (400).
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis

NDJSON = "application/x-ndjson"


@schemathesis.serializer(NDJSON)
def to_ndjson(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    items = value if isinstance(value, list) else []
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


@schemathesis.deserializer(NDJSON)
def from_ndjson(ctx: schemathesis.DeserializationContext, response: Any) -> Any:
    return [json.loads(line) for line in response.content.splitlines() if line.strip()]
