"""Compile ``verify/domain`` with mypyc: ``python -m verify.native_build`` (run by ``make install``
and the Docker build).

The build goes to ``<sys.prefix>/share/citizen-verify/native/<key>/`` (:mod:`verify.native`:
the key is the hash of the domain's sources), made in a scratch directory and renamed into
place whole, with its manifest, so a reader never sees half a build. A build of the current
key that is there already is kept (a source change compiles once, not on every run); builds
of other keys are removed. Without mypyc or a C compiler nothing is built and one line says
the domain runs as pure Python: that is not an error (the install goes on). Nor is a build
that fails (a domain change mypyc cannot compile): one line says so and the install goes on as
pure Python, but the parity test (tests/unit/domain/test_native_parity.py) then fails, and the
Docker build checks that its image runs compiled.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from verify import native

# run in a child interpreter (setuptools and mypyc import a lot, and chdir): argv is
# the scratch directory, the output directory, the group name, then the module files
_SETUP = """
import sys
from setuptools import Distribution
from mypyc.build import mypycify

scratch, out, group, *paths = sys.argv[1:]
ext = mypycify(paths, opt_level="3", group_name=group, target_dir="mypyc-c")
dist = Distribution({"name": group, "ext_modules": ext, "script_name": "native_build"})
cmd = dist.get_command_obj("build_ext")
cmd.build_lib = out
cmd.build_temp = scratch + "/tmp"
dist.run_command("build_ext")
"""


def compiler() -> str | None:
    """The C compiler extensions are built with (``CC``, else the interpreter's), if installed."""
    cc = (os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc")).split()[0]
    return shutil.which(cc)


def missing() -> str | None:
    """Why nothing can be compiled here, or None."""
    try:
        import mypyc  # noqa: F401
    except ImportError:
        return "mypyc is not installed"
    if importlib.util.find_spec("setuptools") is None:  # mypyc builds through it (3.12+
        return "setuptools is not installed"  # venvs come without it)
    if compiler() is None:
        return "no C compiler"
    include = sysconfig.get_paths()["include"]
    if not Path(include, "Python.h").is_file():
        return f"no Python headers ({include}/Python.h)"
    return None


def _prune(root: Path, keep: str) -> None:
    """Remove the builds of other sources (not a scratch directory: a build under way)."""
    for old in root.iterdir() if root.is_dir() else ():
        if old.name != keep and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)


def build(root: Path, quiet: bool = False) -> Path:
    """Compile the domain into ``root/<key>`` (if not there already); returns that directory."""
    key = native.source_key()
    target = root / key
    if native.build_files(target, key) is not None:
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{key[:12]}-", dir=root) as scratch_dir:
        scratch = Path(scratch_dir)
        src = scratch / "src"
        shutil.copytree(native.DOMAIN_DIR, src / "verify" / "domain",
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        # keyed by what is compiled: the copy, not the tree as it was before (an edit saved
        # between the two must not give a build of new code under the old sources' key)
        key = native.source_key(src / "verify" / "domain")
        target = root / key
        (src / "verify" / "__init__.py").write_text("")
        names = native.compiled_names(src / "verify" / "domain")  # the copy's, as the key
        paths = [n.replace(".", "/") + ".py" for n in names]
        out = scratch / "out"
        run = subprocess.run(
            [sys.executable, "-c", _SETUP, str(scratch), str(out), native.GROUP, *paths],
            cwd=src, capture_output=quiet, text=True, check=False,
        )  # fmt: skip
        if run.returncode != 0:
            raise RuntimeError(f"mypyc failed:\n{run.stdout or ''}{run.stderr or ''}")
        suffix = str(sysconfig.get_config_var("EXT_SUFFIX"))
        files = {n: n.replace(".", "/") + suffix for n in names}
        files[f"{native.GROUP}__mypyc"] = f"{native.GROUP}__mypyc{suffix}"
        for rel in files.values():
            if not (out / rel).is_file():
                raise RuntimeError(f"mypyc built no {rel}")
        built = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        manifest = {"key": key, "files": files, "built": built}
        (out / native.MANIFEST).write_text(json.dumps(manifest, indent=1))
        if native.build_files(target, key) is not None:  # a concurrent build finished it
            _prune(root, key)
            return target
        if target.exists():  # an incomplete or foreign directory under this key
            shutil.rmtree(target)
        try:
            os.replace(out, target)  # whole, or not at all
        except OSError:
            if native.build_files(target, key) is None:  # not a concurrent build's
                raise
    _prune(root, key)
    return target


def check(environ: Mapping[str, str] = os.environ) -> int:
    """0 when this process runs the compiled domain, or the .py files were asked for, or
    nothing can be compiled here (saying why); 1 when a build should have been there."""
    mode = native.mode()
    print(mode.line())
    if mode.compiled or native.pure_forced(environ):
        return 0
    why = missing()
    if why is not None:
        print(f"verify/domain: nothing can be compiled here ({why})")
        return 0
    print("verify/domain: a build is possible here but none runs: run `make install` "
          "(`python -m verify.native_build --verbose` shows a failed build's output)")  # fmt: skip
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=native.native_root())
    parser.add_argument("--verbose", action="store_true", help="show mypyc's and gcc's output")
    parser.add_argument(
        "--check", action="store_true",
        help="build nothing: print which domain runs here, and fail if it could be compiled "
        "here yet runs as pure Python (make test-compiled)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.check:
        return check()
    why = missing()
    if why is not None:
        print(f"verify/domain: not compiled ({why}): it runs as pure Python", file=sys.stderr)
        return 0
    started = time.monotonic()
    key = native.source_key()
    fresh = native.build_files(args.root / key, key) is None
    try:
        target = build(args.root, quiet=not args.verbose)
    except (RuntimeError, OSError) as e:
        # never a failed install (`make run` must work): the domain runs as pure Python, and
        # tests/unit/domain/test_native_parity.py fails on a build that should have worked
        first = str(e).splitlines()[0].rstrip(":")
        print(f"verify/domain: not compiled ({first}; `python -m verify.native_build --verbose`"
              " shows why): it runs as pure Python", file=sys.stderr)  # fmt: skip
        return 0
    if fresh:
        took = time.monotonic() - started
        print(f"verify/domain: compiled with mypyc in {took:.0f} s into {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
