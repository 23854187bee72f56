"""`python -m verify.native_build --check` (make test-compiled): it fails only when a build
was possible here and yet the domain runs as pure Python without being asked to."""

from __future__ import annotations

import pytest

from verify import native, native_build


@pytest.mark.parametrize(
    ("compiled", "environ", "why_missing", "expected"),
    [
        (True, {}, None, 0),
        (False, {"VERIFY_PURE_PYTHON": "1"}, None, 0),  # asked for the .py files
        (False, {}, "no C compiler", 0),  # nothing can be compiled here: said, not failed
        (False, {}, None, 1),  # a build should be there
        (False, {"VERIFY_PURE_PYTHON": "0"}, None, 1),
    ],
)
def test_check(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    compiled: bool,
    environ: dict[str, str],
    why_missing: str | None,
    expected: int,
) -> None:
    monkeypatch.setattr(native, "mode", lambda: native.Mode(compiled, "test"))
    monkeypatch.setattr(native_build, "missing", lambda: why_missing)
    assert native_build.check(environ) == expected
    out = capsys.readouterr().out
    assert out.startswith("verify/domain: ")
    if why_missing is not None and not compiled:
        assert why_missing in out
