"""Without Chromium the counter page's browser test skips on a laptop and fails under CI."""

from __future__ import annotations

import shutil

import pytest

from tests.e2e import browser


def _no_browser(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    monkeypatch.setattr(browser, "BROWSERS", ("no-such-chromium",))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)


@pytest.mark.parametrize("ci", ["true", "1"])
def test_missing_chromium_fails_under_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    _no_browser(monkeypatch, ci)
    with pytest.raises(pytest.fail.Exception, match="chromium"):
        browser.start_chromium()


def test_missing_chromium_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_browser(monkeypatch, None)
    with pytest.raises(pytest.skip.Exception):
        browser.start_chromium()
