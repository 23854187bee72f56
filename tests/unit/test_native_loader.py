"""verify/native.py uses the compiled domain only when it was built from the sources as they are.

The key of a build is the hash of every domain source; a build whose manifest names another
key, or lacks a file, is not used; ``VERIFY_PURE_PYTHON`` is parsed strictly. End to end, in a
child interpreter that imports a copy of the ``verify`` package: the copy as it is runs the
compiled build, the same copy with one domain source edited runs pure Python (the build is
then stale), and so does the copy with ``VERIFY_PURE_PYTHON=1``. Without a C compiler the
build step says so in one line and succeeds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from verify import native, native_build
from verify.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]

# imports the package from argv[1] (not the editable install's checkout) and says its mode
_CHILD = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in type(f).__module__]
sys.path.insert(0, sys.argv[1])
import verify.domain.claims as claims
from verify import native
print(native.mode().name, native.DOMAIN_DIR, claims.__file__, sep="\\n")
"""


def _copy_domain(into: Path) -> Path:
    shutil.copytree(native.DOMAIN_DIR, into, ignore=shutil.ignore_patterns("__pycache__"))
    return into


def test_the_key_is_the_sources_and_not_their_place(tmp_path: Path) -> None:
    copy = _copy_domain(tmp_path / "domain")
    assert native.source_key(copy) == native.source_key()
    with (copy / "names.py").open("a") as f:
        f.write("# one comment more\n")
    assert native.source_key(copy) != native.source_key()
    (copy / "names.py").unlink()
    assert native.source_key(copy) != native.source_key()


def test_a_build_of_another_key_or_with_a_file_missing_is_not_used(tmp_path: Path) -> None:
    so = tmp_path / "verify" / "domain" / "claims.so"
    so.parent.mkdir(parents=True)
    so.write_bytes(b"")
    files = {"verify.domain.claims": "verify/domain/claims.so"}
    assert native.build_files(tmp_path, "k") is None  # no manifest
    (tmp_path / native.MANIFEST).write_text("{not json")
    assert native.build_files(tmp_path, "k") is None
    (tmp_path / native.MANIFEST).write_text(json.dumps({"key": "other", "files": files}))
    assert native.build_files(tmp_path, "k") is None
    (tmp_path / native.MANIFEST).write_text(json.dumps({"key": "k", "files": files}))
    assert native.build_files(tmp_path, "k") == {"verify.domain.claims": so}
    so.unlink()
    assert native.build_files(tmp_path, "k") is None


@pytest.mark.parametrize(
    ("value", "pure"), [("", False), ("0", False), ("false", False), ("1", True), (" TRUE", True)]
)
def test_pure_python_is_forced_by_one_or_true(value: str, pure: bool) -> None:
    assert native.pure_forced({native.ENV: value}) is pure
    assert native.pure_forced({}) is False


def test_a_bad_pure_python_value_is_refused() -> None:
    with pytest.raises(ValueError, match=native.ENV):
        native.pure_forced({native.ENV: "maybe"})


def _child(package_root: Path, pure: bool = False) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != native.ENV}
    if pure:
        env[native.ENV] = "1"
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(package_root)],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.splitlines()


@pytest.mark.timeout(600)  # compiles the domain if `make install` has not for these sources
def test_a_stale_build_never_runs(tmp_path: Path) -> None:
    why = native_build.missing()
    if why is not None:
        pytest.skip(f"the domain cannot be compiled here ({why})")
    native_build.build(native.native_root(), quiet=True)
    package = tmp_path / "verify"
    shutil.copytree(ROOT / "verify", package, ignore=shutil.ignore_patterns("__pycache__"))

    mode, domain, claims = _child(tmp_path)
    assert (mode, domain) == ("compiled", str(package / "domain"))
    assert claims.startswith(str(native.native_root())), claims

    mode, _, claims = _child(tmp_path, pure=True)
    assert (mode, claims) == ("pure", str(package / "domain" / "claims.py"))

    with (package / "domain" / "dates.py").open("a") as f:
        f.write("\n# edited after the build\n")
    mode, _, claims = _child(tmp_path)
    assert (mode, claims) == ("pure", str(package / "domain" / "claims.py"))


def test_without_a_compiler_the_install_goes_on_in_pure_python(tmp_path: Path) -> None:
    env = {**os.environ, "CC": str(tmp_path / "no-such-cc")}
    done = subprocess.run(
        [sys.executable, "-m", "verify.native_build", "--root", str(tmp_path / "native")],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        "verify/domain: not compiled (no C compiler): it runs as pure Python"
    ]
    assert not (tmp_path / "native").exists()


def test_a_failed_build_leaves_the_install_going_on_as_pure_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(root: Path, quiet: bool = False) -> Path:
        raise RuntimeError("mypyc failed:\nverify/domain/names.py:1: error: something")

    monkeypatch.setattr(native_build, "missing", lambda: None)
    monkeypatch.setattr(native_build, "build", broken)
    assert native_build.main(["--root", str(tmp_path / "native")]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "verify/domain: not compiled (mypyc failed; `python -m verify.native_build --verbose`"
        " shows why): it runs as pure Python"
    ]


def test_the_mode_is_exposed_as_a_label_free_gauge_and_a_line() -> None:
    metrics = Metrics()
    value = metrics.registry.get_sample_value("verify_domain_compiled")
    assert value == (1.0 if native.mode().compiled else 0.0)
    assert native.Mode(True, "13 modules, build x").line() == (
        "verify/domain: compiled (mypyc), 13 modules, build x"
    )
    assert native.Mode(False, "VERIFY_PURE_PYTHON=1").line() == (
        "verify/domain: pure Python (VERIFY_PURE_PYTHON=1)"
    )
