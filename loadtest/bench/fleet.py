"""N single-process servers on one port (SO_REUSEPORT): how Kubernetes runs the app, one
process per container, each with its metrics in process (no multiprocess files).

``python -m loadtest.bench.fleet COMMAND... --port P --workers N`` (the bench appends
the last two to every server's command) starts N copies of ``COMMAND --port P
--workers 1``, forwards SIGTERM/SIGINT to them and exits when they all have.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from types import FrameType


def _split(argv: list[str]) -> tuple[list[str], str, int]:
    command, port, workers = [], "", 1
    rest = iter(argv)
    for arg in rest:
        if arg == "--port":
            port = next(rest)
        elif arg == "--workers":
            workers = int(next(rest))
        else:
            command.append(arg)
    if not command or not port:
        raise SystemExit("usage: python -m loadtest.bench.fleet COMMAND... --port P --workers N")
    return command, port, workers


def main(argv: list[str]) -> int:
    command, port, workers = _split(argv)
    procs = [subprocess.Popen([*command, "--port", port, "--workers", "1"]) for _ in range(workers)]

    def stop(signum: int, frame: FrameType | None) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return max(abs(proc.wait()) for proc in procs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
