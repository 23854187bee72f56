"""HMAC-SHA256 under one key, made many times: the key's pads absorbed once (RFC 2104).

``hmac.digest(key, msg, "sha256")`` is OpenSSL 3's one-shot ``HMAC()``: every call looks
up the digest and absorbs the key's inner and outer pads again, about 4 µs here for a
message of a few bytes. Here both pads (and an optional fixed start of every message)
are absorbed once into SHA-256 states; each MAC then copies the two states and finishes
them: the same bytes as ``hmac.digest`` (tests/unit/service/test_keyed_hash.py) in
about 1.7 µs. For the HMACs the service makes per person: the probing limit's Redis keys
(verify/adapters/attempts.py), and the audit subject (verify/service/audit.py: subject_of).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

_BLOCK = 64  # SHA-256's block: each pad is one block
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


class HmacSha256:
    """``hmac.digest(key, prefix + message, "sha256")`` for many messages."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes, prefix: bytes = b"") -> None:
        if len(key) > _BLOCK:  # RFC 2104: a key longer than a block is hashed first
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._inner.update(prefix)
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def digests(self, messages: Iterable[bytes]) -> list[bytes]:
        """``digest`` of each message, in order, in one loop (no call per message)."""
        inner0, outer0 = self._inner, self._outer
        made = []
        for message in messages:
            inner = inner0.copy()
            inner.update(message)
            outer = outer0.copy()
            outer.update(inner.digest())
            made.append(outer.digest())
        return made
