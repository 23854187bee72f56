"""py-spy on one worker under load, and the top costs of its samples.

``py-spy record --native --function --format raw`` writes folded stacks (one
line per distinct stack and its sample count; idle samples are left out, so a
percentage is a share of the worker's busy CPU time). Three views of them:

- ``python_self``: each sample charged to its deepest Python frame, C code it
  called included (``time.gmtime`` counts for its caller); where uvloop calls C
  directly (asyncpg's protocol, aiohttp's parser, asyncio's C tasks, uvloop
  itself) with no Python frame below, to that C frame;
- ``inclusive``: Python functions by the share of samples they are on the stack of;
- ``native_self``: the leaf frame itself, C included (uvloop, asyncpg's protocol, libc).

"Busy" is py-spy's view: running or runnable. On 2 shared cores a process that
writes to a socket often wakes the reader and is preempted inside ``write``, so
frames of socket writes also hold time spent waiting for a core.

Native unwinding pauses the process for each sample, which costs it a few
per cent: the profile runs in a load window of its own, not during the measurement.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

RATE_HZ = 250
_ROOT = f"{Path(__file__).resolve().parents[2]}/"  # this checkout: its files show relative
SLACK_S = 60
TOP = 25
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
_SITE = re.compile(r"^.*/(site|dist)-packages/")
_IDLE = frozenset({"epoll_pwait", "epoll_wait", "poll", "select"})  # the loop's wait syscalls
_NOISE = ("Py_DECREF", "Py_XDECREF", "Py_INCREF", "__Pyx_")  # inlined refcount helpers
# C files of the extensions that run the event loop and the protocols: frames of theirs with no
# Python frame below are charged to them, not to run_app (uvloop calls them from C).
_C_COMPONENTS = {
    "uvloop (C)": ("loop.c", "core.c", "loop-watcher.c", "stream.c", "linux.c", "tcp.c",
                   "unix.c", "timer.c", "async.c", "uv-common.c", "poll.c", "udp.c"),
    "asyncio (C)": ("_asynciomodule.c",),
    "asyncpg (C)": ("protocol.c", "pgproto.c", "recordobj.c", "coreproto.c"),
    "aiohttp (C)": ("_http_parser.c", "_http_writer.c", "llhttp.c", "api.c", "http.c"),
}  # fmt: skip
_C_FILE = {name: component for component, names in _C_COMPONENTS.items() for name in names}


# Stages of the app's request path, first match wins: a sample belongs to the first stage one of
# whose markers (a file prefix, a function name prefix, or an exact function name) is anywhere on
# its stack. The names are those of the per-stage table of bench.json (``stage_us``).
STAGES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], frozenset[str]], ...] = (
    ("metrics", ("prometheus_client/", "verify/metrics.py"), (), frozenset()),
    ("log", ("logging/", "verify/logs.py"), (), frozenset()),
    ("audit", ("verify/adapters/audit.py", "verify/service/audit.py"), ("_entry",),
     frozenset({"Floor._commit"})),  # the floor servers' (loadtest/bench/floor.py) too
    # the limiters' Redis round trips (their own tick batches) are auth's, not the lookup's
    ("auth", ("verify/adapters/gcra_", "verify/adapters/ratelimit.py",
              "verify/adapters/attempts.py"), (), frozenset({"Floor._charge"})),
    ("lookup", ("cache/", "redis/", "verify/adapters/pg.py"),
     ("fetch_records", "resolve_ids"), frozenset({"Floor._fetch", "Floor.person"})),
    ("auth", ("verify/service/auth.py", "verify/service/limits.py"), (), frozenset()),
    ("parse", ("verify/domain/claims.py", "verify/domain/qr.py"),
     ("read_json", "BaseRequest.read", "parse_item", "_decode"), frozenset()),
    ("serialise", (), (), frozenset({"json_response", "answer", "answer_all_items",
                                     "outcome_to_json", "_field_json", "_card_json", "_write"})),
    ("evaluate", ("verify/domain/",), (), frozenset()),
)  # fmt: skip
OTHER_STAGE = "HTTP"  # aiohttp, uvloop, middleware, the event loop
STAGE_ORDER = ("parse", "auth", "lookup", "evaluate", "audit", "serialise", "metrics", "log",
               OTHER_STAGE)  # fmt: skip


class ProfileError(RuntimeError):
    pass


@dataclass(frozen=True)
class Cost:
    function: str
    pct: float

    def as_dict(self) -> dict[str, str | float]:
        return {"function": self.function, "pct": self.pct}


@dataclass(frozen=True)
class Profile:
    pid: int
    samples: int
    python_self: list[Cost] = field(default_factory=list)
    inclusive: list[Cost] = field(default_factory=list)
    native_self: list[Cost] = field(default_factory=list)
    by_package: list[Cost] = field(default_factory=list)
    by_stage: list[Cost] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "worker_pid": self.pid,
            "samples": self.samples,
            "top_python_self": [c.as_dict() for c in self.python_self],
            "top_inclusive": [c.as_dict() for c in self.inclusive],
            "top_native_self": [c.as_dict() for c in self.native_self],
            "by_package": [c.as_dict() for c in self.by_package],
            "by_stage": [c.as_dict() for c in self.by_stage],
        }


def record(pid: int, seconds: float, out: Path) -> Path:
    """Sample ``pid`` for ``seconds`` into folded stacks at ``out``."""
    beside = Path(sys.executable).parent / "py-spy"  # the venv's, also when it is not activated
    binary = str(beside) if beside.exists() else shutil.which("py-spy")
    if binary is None:
        raise ProfileError("py-spy is not installed: `make bench` installs it into the venv")
    cmd = [
        binary, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
        "--rate", str(RATE_HZ), "--native", "--function", "--format", "raw", "--output", str(out),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=seconds + SLACK_S, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise ProfileError("py-spy did not finish in time") from e
    if done.returncode != 0 or not out.exists():
        raise ProfileError(f"py-spy failed ({done.returncode}): {done.stderr[-1000:]}")
    return out


@dataclass(frozen=True)
class Frame:
    name: str
    file: str

    @property
    def python(self) -> bool:
        return self.file.endswith(".py")

    @property
    def label(self) -> str:
        return f"{self.name} ({self.file})"

    @property
    def attributable(self) -> bool:
        return self.python or self.file in _C_FILE

    @property
    def package(self) -> str:
        if not self.python:
            return _C_FILE.get(self.file, "native")
        parts = self.file.removesuffix(".py").split("/")
        if parts[0] in ("verify", "cache", "loadtest"):
            return ".".join(parts[:2])
        return parts[0]


def _frame(raw: str) -> Frame:
    match = _FRAME.match(raw.strip())
    if match is None:
        return Frame(raw.strip(), "?")
    file = _SITE.sub("", match["file"])
    file = re.sub(r"^.*/lib/python3\.\d+/", "", file).removeprefix(_ROOT)
    return Frame(match["name"], file)


def read_folded(path: Path) -> list[tuple[list[Frame], int]]:
    stacks: list[tuple[list[Frame], int]] = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append(([_frame(f) for f in stack.split(";")], int(count)))
    return stacks


def _top(counter: Counter[str], total: int, n: int, *, below: float = 101.0) -> list[Cost]:
    costs = [Cost(k, round(100 * v / total, 1)) for k, v in counter.most_common()]
    return [c for c in costs if c.pct < below][:n]


def _leaf(stack: list[Frame]) -> Frame:
    for frame in reversed(stack):
        if not frame.name.startswith(_NOISE):
            return frame
    return stack[-1]


def stage_of(stack: list[Frame]) -> str:
    for stage, files, prefixes, exact in STAGES:
        for frame in stack:
            if files and frame.file.startswith(files):
                return stage
            if prefixes and frame.name.startswith(prefixes):
                return stage
            if frame.name in exact:
                return stage
    return OTHER_STAGE


def stage_us(profile: Profile, us_per_request: float) -> dict[str, float]:
    """The app's CPU per request split by stage: each stage's share of the profiled worker's
    busy samples times the CPU microseconds per request of the whole server (every stage
    listed, 0 when absent; rounded to 0.1 us)."""
    shares = {c.function: c.pct for c in profile.by_stage}
    return {stage: round(shares.get(stage, 0.0) * us_per_request / 100, 1) for stage in STAGE_ORDER}


def summarize(pid: int, stacks: Iterable[tuple[list[Frame], int]], n: int = TOP) -> Profile:
    py_self: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    native: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    total = 0
    for stack, count in stacks:
        if _leaf(stack).name in _IDLE:
            continue  # the loop waiting for I/O: py-spy --native counts it as running
        total += count
        python = [f for f in stack if f.python]
        deepest = next((f for f in reversed(stack) if f.attributable), stack[-1])
        py_self[deepest.label] += count
        packages[deepest.package] += count
        stages[stage_of(stack)] += count
        native[_leaf(stack).label] += count
        for label in {f.label for f in python}:
            inclusive[label] += count
    if total == 0:
        raise ProfileError("py-spy recorded no samples (was the worker idle?)")
    return Profile(
        pid=pid,
        samples=total,
        python_self=_top(py_self, total, n),
        inclusive=_top(inclusive, total, n, below=97.0),  # minus the frames of every sample
        native_self=_top(native, total, n),
        by_package=_top(packages, total, n),
        by_stage=_top(stages, total, len(STAGE_ORDER)),
    )


def as_text(title: str, profile: Profile) -> str:
    def block(heading: str, costs: list[Cost]) -> list[str]:
        return [heading, *(f"  {c.pct:5.1f}%  {c.function}" for c in costs), ""]

    lines = [
        title,
        f"py-spy record --native --function, {RATE_HZ} Hz, worker pid {profile.pid}, "
        f"{profile.samples} busy samples (idle left out: % of the worker's busy time; busy = "
        "running or runnable, so socket writes that wake another process include waiting for "
        "a core)",
        "",
        *block("self, charged to the deepest Python frame (C it calls included) or the event "
               "loop's C frame:",
               profile.python_self),
        *block("by stage of the request path (first stage found on the stack):",
               profile.by_stage),
        *block("self, by package of that frame:", profile.by_package),
        *block("inclusive (on the stack of this share of samples; frames of every sample "
               "left out):", profile.inclusive),
        *block("self, leaf frame (native code included):", profile.native_self),
    ]  # fmt: skip
    return "\n".join(lines)
