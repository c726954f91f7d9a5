"""Headless Chromium for the report's browser tests, and the page's layout as a reader sees it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900"]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason=f"{CHROMIUM} not installed (apt-get install chromium chromium-driver); CI must run it")


@contextmanager
def chromium(profile: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def layout(driver, opened: bool = False) -> dict:
    """At 1400 x 900 with every <details> closed (or `opened`): the page's height, where the
    first screen's parts end, the claims table's rows, what overflows its container (a table,
    figure or block of code wider than its column, a table that scrolls sideways) and the
    visible text."""
    driver.set_window_size(1400, 900)
    return driver.execute_script("""
        document.querySelectorAll("details").forEach(d => d.open = arguments[0]);
        window.scrollTo(0, 0);
        const bottom = id => { const e = document.getElementById(id);
            return e && e.getBoundingClientRect().bottom + window.scrollY; };
        const shown = [...document.querySelectorAll("main *")].filter(e => e.offsetParent);
        return {
            height: document.documentElement.scrollHeight,
            bottoms: Object.fromEntries(["what-ran", "departures", "winner", "claims-verdicts"]
                .map(id => [id, bottom(id)])),
            claims: document.querySelectorAll("#claims-verdicts tbody tr").length,
            overflow: shown.filter(e => ["TABLE", "IMG", "PRE", "FIGURE"].includes(e.tagName)
                    && e.getBoundingClientRect().width
                       > e.parentElement.getBoundingClientRect().width + 1
                    || e.classList.contains("table-wrap") && e.scrollWidth > e.clientWidth + 1)
                .map(e => e.tagName + "#" + (e.id || e.firstElementChild?.id || "")),
            pageWidth: document.documentElement.scrollWidth, window: window.innerWidth,
            text: document.body.innerText};""", opened)
