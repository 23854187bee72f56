"""Server (f): the real app with the audit writer replaced by one that writes nothing.

Only for measuring what the audit costs, in the same run as (c): the same
settings, cache and workers, one difference. Production has no way to turn the
audit off: this override exists only as an argument of ``verify.server.serve``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from verify.server import serve
from verify.service.audit import AuditEntry
from verify.settings import Settings


class NullAudit:
    async def record(self, entries: Sequence[AuditEntry]) -> None:
        return None


def null_audit() -> NullAudit:
    return NullAudit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = Settings.from_env(os.environ)
    serve(settings, host="127.0.0.1", port=args.port, workers=args.workers, make_audit=null_audit)


if __name__ == "__main__":
    main()
