"""The page of a default-size run (10 models x 3 seeds x 100 epochs and the four shipped sweeps,
3 seeds a point), built from synthetic inputs and laid out by headless Chromium: short with every
block closed, its first screen whole, nothing wider than its column, no `nan` or `None` shown.
The quick run's page gets the same checks in tests/test_report_browser.py."""

from __future__ import annotations

import re

import pytest
import yaml

from dlwpt.report.claims import CLAIMS
from tests.helpers.browser import chromium, layout, needs_chromium
from tests.helpers.report_inputs import report_inputs
from tests.test_report import REPO, build
from tests.test_sweeps_report import SEEDS, default_size

pytestmark = needs_chromium
MAX_HEIGHT = 12_000  # px at 1400 px wide, every <details> closed
FIRST_SCREEN = 900


@pytest.fixture(scope="module")
def shown(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("default_size")
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    build(folder, default_size(folder, report_inputs(folder / "inputs", seeds=SEEDS), config))
    with chromium(tmp_path_factory.mktemp("profile")) as driver:
        driver.get((folder / "report.html").resolve().as_uri())
        opened = layout(driver, opened=True)
        found = layout(driver) | {"opened": opened}  # closed from here on
        found["sections"] = driver.execute_script(
            "return [...document.querySelectorAll('main > section')].map(s => s.id)")
        found["closed_bodies"] = driver.execute_script("""
            return ["data", "thermometer", "provenance"].map(id => document.querySelector(
                "#" + id + " > details").getBoundingClientRect().height);""")
    return found


def test_the_default_size_page_is_short_with_its_blocks_closed(shown):
    print(f"\ndefault-size page: {shown['height']:,} px with every block closed")
    assert shown["height"] <= MAX_HEIGHT, shown["height"]
    assert shown["sections"] == ["results", "claims", "sweeps", "curves", "cost", "data",
                                 "thermometer", "provenance", "glossary"]
    assert all(0 < h < 60 for h in shown["closed_bodies"]), shown["closed_bodies"]  # one line


def test_its_first_screen_holds_what_ran_the_winner_and_one_row_per_claim(shown):
    bottoms = shown["bottoms"]
    assert bottoms["departures"] is None  # the book's settings: nothing departs
    assert all(0 < bottoms[k] <= FIRST_SCREEN for k in ("what-ran", "winner", "claims-verdicts"))
    assert shown["claims"] == len(CLAIMS)


def test_nothing_is_wider_than_its_column_and_no_nan_is_shown(shown):
    """Closed, and with every block open."""
    for seen in (shown, shown["opened"]):
        assert seen["overflow"] == [] and seen["pageWidth"] <= seen["window"], seen["overflow"]
        assert not re.search(r"\b(nan|NaN|None)\b", seen["text"])
    assert "3 (seeds 0–2)" in shown["text"]  # the accuracy table's seeds: a count and the list
