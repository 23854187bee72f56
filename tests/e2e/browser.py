"""Headless Chromium (Debian's chromium + chromium-driver) driven by selenium, and the
counter page seen through its stable hooks. Synchronous: tests call it with asyncio.to_thread
while the app under test keeps serving on the test's event loop.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

# the real binary first: Debian's /usr/bin/chromium is a shell wrapper
BROWSERS = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")
ANSWER_TIMEOUT_S = 15


def _find_browser() -> tuple[str, str] | None:
    driver = shutil.which("chromedriver")
    for name in BROWSERS:
        found = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
        if found and driver:
            return found, driver
    return None


def start_chromium() -> webdriver.Chrome:
    """A headless Chromium; skips the test when it is missing, fails instead under CI=true."""
    found = _find_browser()
    if found is None:
        message = "chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    binary, driver = found
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--lang=vi", "--disable-extensions",
                "--no-first-run", "--disable-background-networking"):  # fmt: skip
        options.add_argument(arg)
    # Selenium Manager would try to download a browser: name the system driver instead
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


@dataclass(frozen=True)
class Answer:
    verdict: str
    seq: int
    ms: float  # Enter to the animation frame after the panel was written (painted)
    answer_ms: float  # Enter to the answer in hand, before the panel is written
    wait_ms: float  # request sent to the answer's first byte (resource timing; -1: none)
    text: str  # the panel's visible text
    reasons: list[str]
    focused: str | None  # the name of the element with focus after the answer


# Presses Enter in the focused scan box and waits, in the page, for the panel to show the
# answer of that scan (data-seq, set in the animation frame after the panel is written).
_SCAN_AND_WAIT = """
const [want, done] = [arguments[0], arguments[arguments.length - 1]];
const panel = document.getElementById("answer");
function report() {
  const reasons = [...document.querySelectorAll("#answer-reasons li")].map((li) => li.textContent);
  const focused = document.activeElement ? document.activeElement.getAttribute("name") : null;
  // the fetch's request sent -> first byte of the answer (the service and loopback)
  const timings = performance.getEntriesByType("resource")
    .filter((e) => e.name.endsWith("/v1/verify"));
  const last = timings[timings.length - 1];
  const wait = last ? last.responseStart - last.requestStart : -1;
  performance.clearResourceTimings();
  const data = panel.dataset;
  done({verdict: data.verdict, seq: Number(data.seq), ms: Number(data.ms),
        answer_ms: Number(data.answerMs), wait_ms: wait,
        text: panel.innerText, reasons, focused});
}
if (Number(panel.dataset.seq) >= want) { report(); return; }
new MutationObserver((_, observer) => {
  if (Number(panel.dataset.seq) >= want) { observer.disconnect(); report(); }
}).observe(panel, {attributes: true, attributeFilter: ["data-seq"]});
"""


class CounterPage:
    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url
        self.scans = 0
        driver.set_script_timeout(ANSWER_TIMEOUT_S)

    def open(self) -> None:
        self.driver.get(f"{self.base_url}/counter")
        self.scans = 0

    def field(self, name: str) -> WebElement:
        return self.driver.find_element(By.NAME, name)

    def focused_name(self) -> str | None:
        return cast(str | None, self.driver.execute_script(
            "return document.activeElement && document.activeElement.getAttribute('name')"
        ))  # fmt: skip

    def sign_in(self, key: str, terminal: str) -> None:
        self.field("key").send_keys(key)
        self.field("terminal").send_keys(terminal + Keys.ENTER)
        WebDriverWait(self.driver, 5).until(lambda d: self.field("scan").is_displayed())

    def signed_in(self) -> bool:
        return self.field("scan").is_displayed()

    def wait_for_sign_in_form(self) -> str:
        WebDriverWait(self.driver, ANSWER_TIMEOUT_S).until(
            lambda d: self.field("key").is_displayed()
        )
        return self.driver.find_element(By.ID, "signin-message").text

    def scan(self, qr: str, booking: str | None = None) -> Answer:
        """Like a traveller at the counter: the booking name (if any), then the scanner's
        text and Enter into the box that has the focus."""
        if booking is not None:
            self.field("booking").click()
            self.field("booking").send_keys(booking + Keys.ENTER)  # Enter goes back to scan
        box = self.driver.switch_to.active_element
        assert box.get_attribute("name") == "scan", "the scan box does not have the focus"
        box.send_keys(qr)
        box.send_keys(Keys.ENTER)
        return self._answer()

    def scan_into_booking(self, booking: str, qr: str) -> Answer:
        """The agent types the booking name and the scanner types into the same box."""
        self.field("booking").click()
        self.field("booking").send_keys(booking + qr + Keys.ENTER)
        return self._answer()

    def _answer(self) -> Answer:
        self.scans += 1
        raw: dict[str, Any] = self.driver.execute_async_script(_SCAN_AND_WAIT, self.scans)
        return Answer(
            verdict=raw["verdict"], seq=raw["seq"], ms=raw["ms"], answer_ms=raw["answer_ms"],
            wait_ms=raw["wait_ms"], text=raw["text"],
            reasons=raw["reasons"], focused=raw["focused"],
        )  # fmt: skip

    def press_enter_only(self) -> None:
        """Enter without waiting for an answer (for states that lead away from the panel)."""
        self.driver.switch_to.active_element.send_keys(Keys.ENTER)

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(path)), path
