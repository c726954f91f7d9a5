"""A real headless Chromium opens the pipeline's report from disk, as a reader would.

Checks what only a browser can: every figure decodes at its file's size and is laid out whole,
the page logs no errors, it requests nothing but file: and data: URLs, a full-page screenshot
(kept at tests/artifacts/report.png for people to look at) shows the verdict and the figures, and
with its blocks closed the page is short and its first screen whole (a default-size run's page:
tests/test_report_layout.py).
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dlwpt.runs import SWEEPS_ROOT
from tests.helpers.browser import chromium, layout, needs_chromium

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
MAX_HEIGHT = 7_200  # px at 1400 px wide, every <details> closed

pytestmark = [pytest.mark.pipeline, needs_chromium]  # opens the quick_pipeline run's report


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[object]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


@pytest.fixture(scope="module")
def opened_report(browser, quick_pipeline: Path):
    """The pipeline's own results/report.html, loaded from a file:// URL."""
    page = quick_pipeline / "results" / "report.html"
    assert page.is_file(), f"the quick pipeline wrote no {page}"
    browser.get(page.resolve().as_uri())
    browser.execute_script("return document.fonts.ready")
    # every block open: the figures and tables below are checked as laid out
    browser.execute_script('document.querySelectorAll("details").forEach(d => d.open = true)')
    return browser


def test_table_and_every_figure_are_visible(opened_report, quick_pipeline):
    """The accuracy table shows metrics.csv's models and figures as rendered text; every image
    decodes at the size of its file in report_figures/ and is laid out whole (scaled to the
    column, never past it, keeping its aspect ratio) from a data: URL."""
    runs = pd.read_csv(quick_pipeline / "results" / "metrics.csv")
    runs = runs[~runs["model"].str.startswith(f"{SWEEPS_ROOT}/")]  # the sweep has its own table
    per_model = runs.groupby("model", sort=False)[["val_acc", "n_params"]].mean()
    rows = opened_report.execute_script("""
        const table = document.getElementById("accuracy-table");
        const head = [...table.tHead.rows[0].cells].map(c => c.innerText);
        return [...table.tBodies[0].rows].map(r => Object.fromEntries(
            [...r.cells].map((c, i) => [head[i], c.innerText])));""")
    assert opened_report.find_element("id", "accuracy-table").is_displayed()
    assert [r["model"] for r in rows] == list(per_model.index)
    for row, model in zip(rows, per_model.itertuples(), strict=True):
        assert row["val acc"] == f"{model.val_acc:.3f}", row
        assert row["parameters"] == f"{int(model.n_params):,}", row
    images = page_images(opened_report)
    figures = sorted((quick_pipeline / "results" / "report_figures").glob("*.png"))
    assert sorted(i["natural"] for i in images) == sorted(Image.open(f).size for f in figures)
    for image in images:
        assert image["src"].startswith("data:image/"), image["alt"]
        width, height = image["natural"]
        shown = image["width"], image["height"]
        assert shown[0] == pytest.approx(min(width, image["column"]), abs=1), image["alt"]
        assert shown[1] == pytest.approx(shown[0] * height / width, abs=1), image["alt"]


def test_headline_interval_chart_verdict_matrix_and_claims_are_shown(opened_report,
                                                                      quick_pipeline):
    """The sections of the statistics, as laid out at 1280 px: the headline and its resolution
    line say what comparisons.csv's vs_best rows say; the verdict matrix of the 10 models fits
    the window without scrolling sideways, its marks (▲ ▼ ○ ×) those of the all_pairs rows;
    the wide table of every comparison scrolls inside its box; every claim shows its verdict."""
    comparisons = pd.read_csv(quick_pipeline / "results" / "comparisons.csv",
                              dtype={"seeds": str})
    vs_best = comparisons[comparisons["family"] == "vs_best"]
    (best,) = vs_best["model_a"].unique()
    headline = opened_report.find_element("id", "winner")
    assert headline.is_displayed()
    assert headline.get_attribute("data-best") == best
    rivals = vs_best[vs_best["verdict"] != "not_tested_diverged"]  # diverged: never ranked
    if len(rivals) and (rivals["verdict"] == "a_better").all():
        assert headline.get_attribute("data-model") == best
        assert headline.text.startswith(f"{best} is the best model: validation accuracy ")
    else:
        assert headline.get_attribute("data-model") == ""
        assert headline.text.startswith(
            f"No model is shown to be better than all the others. {best} has the highest "
            "validation accuracy")
        for model in vs_best.loc[vs_best["verdict"] == "not_distinguishable", "model_b"]:
            assert f"{model} (difference " in headline.text
    assert not re.search(r"\b(tie|tied|ties|equal)\b", headline.text, re.IGNORECASE)
    resolution = opened_report.find_element("id", "resolution")
    assert resolution.is_displayed()
    assert resolution.text.startswith(f"What these seeds can resolve: a true difference to {best} ")
    assert "training randomness is not covered" in resolution.text  # one seed
    (chart,) = [i for i in page_images(opened_report) if i["alt"].startswith("train and valid")]
    accuracy_png = Image.open(quick_pipeline / "results" / "report_figures" / "accuracy.png")
    assert chart["natural"] == accuracy_png.size, chart
    assert chart["width"] == pytest.approx(chart["column"], abs=1), chart  # the column's width
    matrix = opened_report.find_element("id", "verdict-matrix")
    assert matrix.is_displayed()
    layout = opened_report.execute_script("""
        const table = document.getElementById("verdict-matrix");
        const box = table.getBoundingClientRect();
        return {rows: table.rows.length, cells: table.rows[1].cells.length, right: box.right,
                window: window.innerWidth, wrap: table.parentElement.scrollWidth,
                wrapVisible: table.parentElement.clientWidth,
                marks: [...table.querySelectorAll("td span.mark")].map(m => m.textContent),
                shown: [...table.querySelectorAll("td span.mark")].every(
                    m => m.getBoundingClientRect().height > 0)};""")
    assert layout["rows"] == layout["cells"] == 11, layout  # header + 10 models
    # a mark in both cells of every pair that was tested (▲ and ▼, or ○ twice) or diverged (×);
    # a pair not tested for another reason is blank (the quick run's net and l2 can predict
    # every image alike: no spread)
    pairs = comparisons[comparisons["family"] == "all_pairs"]
    assert len(pairs) == 45
    counts = pairs["verdict"].value_counts()
    significant = int(counts.get("a_better", 0) + counts.get("b_better", 0))
    expected = {"▲": significant, "▼": significant,
                "○": 2 * int(counts.get("not_distinguishable", 0)),
                "×": 2 * int(counts.get("not_tested_diverged", 0))}
    assert Counter(layout["marks"]) == {m: n for m, n in expected.items() if n}, layout
    assert layout["shown"] and len(layout["marks"]) >= 80, layout  # nearly every cell
    assert layout["right"] <= layout["window"] and layout["wrap"] <= layout["wrapVisible"], layout
    wide = opened_report.execute_script("""
        const table = document.getElementById("comparisons-table");
        table.closest("details").open = true;
        const box = table.parentElement.getBoundingClientRect();
        return {rows: table.rows.length - 1, boxRight: box.right, height: box.height,
                window: window.innerWidth, page: document.documentElement.scrollWidth};""")
    assert wide["rows"] == len(comparisons) and wide["height"] > 0, wide
    assert wide["boxRight"] <= wide["window"] and wide["page"] <= wide["window"], wide
    claims = opened_report.find_element("id", "claims")
    assert claims.is_displayed()
    verdicts = opened_report.execute_script("""
        return [...document.querySelectorAll("#claims .claim")].map(c => [c.id,
            c.dataset.verdict, c.querySelector("h3 .badge").getBoundingClientRect().height,
            c.querySelector("h3 .badge").textContent]);""")
    assert [v[0] for v in verdicts] == ["claim-fc", "claim-width", "claim-l2", "claim-dropout",
                                        "claim-batch_norm", "claim-res", "claim-res_deep"]
    # every model of the quick run ran, so every claim is evaluated
    assert all(v[1] in ("supported", "not supported", "inconclusive") and v[2] > 0
               and v[3] == v[1] for v in verdicts), verdicts
    # one seed (the quick run): the page says what its intervals cover
    assert "cover the 2,000 validation images only" in opened_report.find_element(
        "id", "interval-note").text


def test_the_sweep_section_shows_its_figure_trend_verdicts_and_points(opened_report,
                                                                      quick_pipeline):
    """The quick config's channels sweep as laid out: its figure decoded and visible within the
    window's width, one trend line per curve (training, validation, gap) with its verdict, the
    best point named as comparisons.csv's sweep:channels rows say, and its table of points."""
    block = opened_report.find_element("id", "sweep-channels")
    opened_report.execute_script("arguments[0].scrollIntoView()", block)
    assert block.is_displayed()
    (image,) = [i for i in page_images(opened_report) if i["alt"].startswith("sweep channels")]
    sweep_png = Image.open(quick_pipeline / "results" / "report_figures" / "sweep_channels.png")
    assert image["natural"] == sweep_png.size, image
    assert image["width"] == pytest.approx(image["column"], abs=1), image
    assert image["x"] + image["width"] <= opened_report.execute_script("return innerWidth")
    trends = block.find_elements("css selector", "#sweep-channels-trends li")
    assert [t.get_attribute("data-curve") for t in trends] == ["train_acc", "val_acc", "gap"]
    assert all(t.is_displayed() and t.get_attribute("data-verdict") for t in trends)
    comparisons = pd.read_csv(quick_pipeline / "results" / "comparisons.csv")
    (best,) = comparisons.loc[comparisons["family"] == "sweep:channels", "model_a"].unique()
    assert block.find_element("id", "sweep-channels-best").get_attribute("data-best") == best
    rows = block.find_elements("css selector", "#sweep-channels-points tbody tr")
    assert [r.find_element("tag name", "td").text for r in rows] == ["8", "16"]


def test_no_console_errors(opened_report):
    severe = [entry for entry in opened_report.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, severe


def test_only_file_and_data_urls_are_requested(opened_report):
    """The page itself loads only file: and data: URLs, and nothing anywhere goes on the network
    (the browser's own chrome:// start page is not the report's doing)."""
    page_url = opened_report.current_url
    from_page, network = [], []
    for entry in opened_report.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] != "Network.requestWillBeSent":
            continue
        url = message["params"]["request"]["url"]
        if message["params"].get("documentURL") == page_url:
            from_page.append(url)
        if url.split(":", 1)[0] in ("http", "https", "ws", "wss", "ftp"):
            network.append(url)
    assert page_url in from_page, "the performance log did not record the report's own load"
    assert all(url.startswith(("file:", "data:")) for url in from_page), from_page
    assert not network, network


def test_full_page_screenshot_shows_the_verdict_and_every_image(opened_report):
    """The first screen shows the title, a link to every section and the headline verdict; the
    full-page screenshot (kept at tests/artifacts/report.png) shows the headline on its own
    background and, where each image is laid out, that image's pixels."""
    opened_report.execute_script("window.scrollTo(0, 0)")
    first = opened_report.execute_script("""
        const inView = e => { const b = e.getBoundingClientRect();
            return b.top >= 0 && b.bottom <= innerHeight && b.right <= innerWidth; };
        const winner = document.getElementById("winner");
        return {title: document.querySelector("h1").innerText,
                titleShown: inView(document.querySelector("h1")),
                links: [...document.querySelectorAll("nav a")].map(
                    a => [a.getAttribute("href"), inView(a)]),
                sections: [...document.querySelectorAll("main > section")].map(s => "#" + s.id),
                winnerShown: inView(winner),
                winnerBox: (b => [b.left + scrollX, b.top + scrollY, b.width, b.height])(
                    winner.getBoundingClientRect()),
                winnerBackground: getComputedStyle(winner).backgroundColor};""")
    assert first["title"] == "Deep Learning with PyTorch, part 1: pipeline report"
    assert first["titleShown"] and first["winnerShown"], first
    assert [href for href, _ in first["links"]] == first["sections"], first
    assert "#results" in first["sections"] and all(shown for _, shown in first["links"]), first

    size = opened_report.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = base64.b64decode(opened_report.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": clip})["data"])
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report.png").write_bytes(shot)
    screen = Image.open(io.BytesIO(shot)).convert("RGB")
    assert screen.size == (round(size["width"]), round(size["height"]))

    x, y, width, height = (round(v) for v in first["winnerBox"])
    headline = np.asarray(screen.crop((x, y, x + width, y + height)))
    colors, counts = np.unique(headline.reshape(-1, 3), axis=0, return_counts=True)
    background = tuple(int(v) for v in re.findall(r"\d+", first["winnerBackground"])[:3])
    assert tuple(colors[counts.argmax()]) == background, first["winnerBackground"]
    assert (headline.sum(axis=2) < 200).sum() > 500  # dark text, not an empty box

    gray = screen.convert("L")
    for image in page_images(opened_report):
        x, y, width, height = (round(image[k]) for k in ("x", "y", "width", "height"))
        shown = gray.crop((x, y, x + width, y + height))
        encoded = Image.open(io.BytesIO(base64.b64decode(image["src"].split(",", 1)[1])))
        assert similarity(shown, encoded.convert("L").resize((width, height))) > 0.9, image["alt"]


def page_images(driver) -> list[dict]:
    """Every image as laid out: natural size, box on the page, width of its column, src."""
    images = driver.execute_script("""
        return [...document.images].map(img => {
            const box = img.getBoundingClientRect();
            return {alt: img.alt, src: img.src,
                    natural: [img.naturalWidth, img.naturalHeight],
                    x: box.left + scrollX, y: box.top + scrollY, width: box.width,
                    height: box.height, column: img.parentElement.clientWidth};
        });""")
    return [{**image, "natural": tuple(image["natural"])} for image in images]


def similarity(shown: Image.Image, expected: Image.Image) -> float:
    """Correlation of two grayscale pictures of one size, at a quarter of it (a sub-pixel
    offset of the layout moves thin lines by a pixel); nan for a blank one."""
    size = (max(1, shown.width // 4), max(1, shown.height // 4))
    a, b = (np.asarray(p.resize(size, Image.Resampling.BOX), dtype=float).ravel()
            for p in (shown, expected))
    return float(np.corrcoef(a, b)[0, 1])


def test_the_first_screen_says_what_ran_the_winner_and_each_claims_verdict(opened_report):
    """At 1400 x 900 with every collapsible block closed: what ran (and how the quick run
    departs from the book), the winner line and the claims table end within the first 900 px;
    one row per claim, each linking to its detail; no `nan` or `None` shown anywhere; the page
    at most MAX_HEIGHT px high and nothing in it wider than its column."""
    from dlwpt.report.claims import CLAIMS

    try:
        opened, shown = layout(opened_report, opened=True), layout(opened_report)
        print(f"\nquick run's page: {shown['height']:,} px with every block closed")
        assert shown["height"] <= MAX_HEIGHT, shown["height"]
        for seen in (opened, shown):
            assert seen["overflow"] == [] and seen["pageWidth"] <= seen["window"], seen
            assert not re.search(r"\b(nan|NaN|None)\b", seen["text"])
        assert shown["claims"] == len(CLAIMS)
        first = opened_report.execute_script("""
            const bottom = id => document.getElementById(id).getBoundingClientRect().bottom
                + window.scrollY;
            const rows = [...document.querySelectorAll("#claims-verdicts tbody tr")];
            return {bottoms: ["what-ran", "departures", "winner", "claims-verdicts"].map(bottom),
                    links: rows.map(r => r.querySelector("a").getAttribute("href")),
                    targets: rows.map(r => !!document.querySelector(
                        r.querySelector("a").getAttribute("href"))),
                    text: document.querySelector("header").innerText + "\\n"
                        + document.getElementById("summary").innerText};""")
        assert all(0 < b <= 900 for b in first["bottoms"]), first
        assert first["links"] == [f"#claim-{c.key}" for c in CLAIMS] and all(first["targets"])
        assert not re.search(r"\b(nan|None|NaN)\b", first["text"]), first["text"]
        assert "Shortened run: " in first["text"] and "2 epochs instead of 100" in first["text"]
        assert "the time per epoch" not in first["text"]  # no wall-clock ratio in the headline
        reproduces = opened_report.execute_script("""
            return [...document.querySelectorAll("#accuracy-table tbody tr")].map(
                r => r.cells[8].innerText);""")
        assert reproduces == ["not comparable"] * 9 + ["not comparable: n_blocks 4"], reproduces
        ARTIFACTS.mkdir(exist_ok=True)
        opened_report.save_screenshot(str(ARTIFACTS / "first_screen.png"))
    finally:
        opened_report.set_window_size(1280, 900)
