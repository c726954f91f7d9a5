"""The report page and metrics.csv: values, winner, escaping, subsets, bad input, self-containment.

Most tests render the page from small synthetic inputs (tests/helpers/report_inputs.py) in a few
seconds; the tests marked `pipeline` build it from a real quick pipeline run's files.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from dlwpt.io import DataError, read_json, write_json
from dlwpt.report import build_report
from dlwpt.statistics import mean_interval, prediction_interval, wilson_interval
from tests.helpers.report_inputs import (
    BOOK_ACCURACY,
    DATASETS,
    RUNS,
    TEXT_LINE,
    report_inputs,
    write_benchmark,
    write_fit,
    write_run,
    zoo_runs,
)

REPO = Path(__file__).resolve().parents[1]
MAX_PAGE_BYTES = 5_000_000
FIGURES = {"accuracy", "curves", "cost", "thermometer"}
VOID = {"img", "meta", "link", "br", "hr", "input"}
INLINE = {"a", "strong", "span", "code", "em", "b", "i"}  # others separate words, as on screen


def build(tmp: Path, inputs: dict[str, Any], **changes: Any) -> tuple[str, pd.DataFrame]:
    """Build a report into `tmp` (with figures) and return the page and metrics.csv
    (comparisons.csv is left in `tmp`)."""
    build_report(**{**inputs, **changes}, out_html=tmp / "report.html",
                 out_csv=tmp / "metrics.csv", out_comparisons=tmp / "comparisons.csv",
                 figures_dir=tmp / "figures")
    return (tmp / "report.html").read_text(), pd.read_csv(tmp / "metrics.csv")


class Page(HTMLParser):
    """What a reader sees: cell texts of every table (by id, else `#<position>`), the attributes
    and visible text of every element with an id, and the whole page's text (whitespace
    collapsed)."""

    def __init__(self, page: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.ids: dict[str, dict[str, str]] = {}
        self._texts: dict[str, list[str]] = {"": []}
        self._open: list[tuple[str, str | None]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(page)
        self.texts = {k: " ".join("".join(v).split()) for k, v in self._texts.items()}
        self.text = self.texts[""]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if "id" in attributes:
            self.ids[attributes["id"]] = attributes
            self._texts[attributes["id"]] = []
        if tag not in INLINE:
            self.handle_data(" ")
        if tag not in VOID:
            self._open.append((tag, attributes.get("id")))
        if tag == "table":
            self._table = attributes.get("id") or f"#{len(self.tables)}"  # unnamed: by position
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag not in INLINE:
            self.handle_data(" ")
        while self._open and self._open.pop()[0] != tag:
            pass
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if any(tag == "style" for tag, _ in self._open):
            return
        for key in ["", *(i for _, i in self._open if i)]:
            self._texts[key].append(data)
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table_id: str) -> list[dict[str, str]]:
        header, *body = self.tables[table_id]
        return [dict(zip(header, row, strict=True)) for row in body]


def assert_self_contained(page: str) -> None:
    references = re.findall(r'\b(?:src|href)="([^"]*)"', page)
    assert references and all(r.startswith(("data:", "#")) for r in references), references
    assert not re.search(r"https?://", page.split("configuration as run")[0])
    assert "<script" not in page and 'rel="stylesheet"' not in page


# --- synthetic inputs ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> dict[str, Any]:
    return report_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def report(synthetic, tmp_path_factory) -> tuple[Page, str, pd.DataFrame, Path]:
    """The full page from the synthetic inputs: every section, every dataset view."""
    out = tmp_path_factory.mktemp("report")
    page, metrics = build(out, synthetic)
    return Page(page), page, metrics, out


def test_metrics_csv_holds_every_run_in_config_order(report):
    _, _, metrics, _ = report
    assert metrics.columns.tolist() == [
        "model", "arch", "seed", "train_acc", "val_acc", "diverged_epoch", "n_params",
        "seconds_per_epoch", "total_seconds", "device", "gpu", "engine", "epochs",
        "resdeep_blocks", "book_train_acc", "book_val_acc", "val_acc_ci_low", "val_acc_ci_high"]
    assert metrics.model.tolist() == list(RUNS)
    for row in metrics.itertuples():
        arch, train_acc, val_acc, n_params, spe = RUNS[row.model]
        assert (row.arch, row.train_acc, row.val_acc, row.n_params, row.seconds_per_epoch) == (
            arch, train_acc, val_acc, n_params, spe)
        assert [row.book_train_acc, row.book_val_acc] == BOOK_ACCURACY[row.model]
        # the 95% Wilson interval of val_acc on the 2,000 validation images
        assert (row.val_acc_ci_low, row.val_acc_ci_high) == pytest.approx(
            wilson_interval(round(val_acc * 2000), 2000), abs=1e-15)
    assert metrics.val_acc_ci_low.round(4).tolist() == [0.8337, 0.8598, 0.6795]
    assert metrics.val_acc_ci_high.round(4).tolist() == [0.865, 0.8888, 0.7197]
    assert metrics.resdeep_blocks.fillna("").tolist() == ["", "", "shared"]


def test_accuracy_table_cells(report):
    parsed, _, _, _ = report
    rows = parsed.rows("accuracy-table")
    assert [r["model"] for r in rows] == list(RUNS)
    assert rows[1] == {"model": "width", "seeds": "1", "val acc": "0.875",
                       "val 95% interval": "0.860–0.889", "train acc": "0.950",
                       "book val": "0.900", "book train": "0.960", "val − book (points)": "-2.5",
                       "reproduces the book?": "no: book above",
                       "parameters": "38,386", "s / epoch": "1.50"}
    assert [r["val − book (points)"] for r in rows] == ["-4.0", "-2.5", "-16.0"]
    # book 0.89 vs net's 0.834–0.865; book 0.86 vs res_deep's 0.680–0.720
    assert [r["reproduces the book?"] for r in rows] == ["no: book above"] * 3
    assert [r["val acc"] for r in parsed.rows("runs-table")] == ["0.850", "0.875", "0.700"]


def test_winner_sentence_names_the_best_model_its_test_and_cost(report):
    """width's 1750 correct images include all of net's 1700: McNemar on 50 vs 0 discordant."""
    parsed, page, _, _ = report
    assert parsed.ids["winner"]["data-model"] == "width"
    assert parsed.texts["winner"] == (
        "width is the best model: validation accuracy 0.875 (95% interval 0.860–0.889), "
        "significantly better than every other model, the runner-up net (0.850) included "
        "(exact McNemar test on the 2,000 validation images, Holm-adjusted p < 0.0001 against "
        "the runner-up). width costs 38,386 parameters and 1.50 s per epoch on cpu (2 threads), "
        "4.00 s for 2 epochs: 3.0× the time per epoch of the fastest model, net.")
    assert '<tr class="winner"><td><strong>width</strong>' in page
    assert parsed.texts["interval-note"].startswith(
        "One seed per model: the 95% intervals (Wilson) and the tests between models (exact "
        "McNemar on the same 2,000 images) cover the validation sample only")


def test_cost_section(report):
    parsed, _, _, _ = report
    assert ("res_deep ran with shared blocks (one ResBlock object applied 4 times, as the book's "
            "n_blocks * [ResBlock(...)] does): 75,810 parameters.") in parsed.texts["cost"]
    cost = parsed.rows("cost-table")
    assert [(r["model"], r["total s"], r["ResDeep blocks"]) for r in cost] == [
        ("net", "2.00", "—"), ("width", "4.00", "—"), ("res_deep", "9.00", "shared")]
    assert parsed.rows("rules-table") == [
        {"rule": "fit_thermometer", "jobs": "1", "total s": "0.50", "longest job s": "0.50",
         "peak RSS MB": "100"},
        {"rule": "ingest_wine", "jobs": "1", "total s": "2.00", "longest job s": "2.00",
         "peak RSS MB": "150"},
        {"rule": "train_model", "jobs": "3", "total s": "12.00", "longest job s": "5.00",
         "peak RSS MB": "402"}]
    assert "every job (5)" in parsed.texts["cost"]


def test_thermometer_section(report):
    parsed, page, _, _ = report
    assert ("1 of 2 runs diverged: hand_lr1e-2 (the loss blew up; no fit is drawn)."
            in parsed.texts["thermometer"])
    assert parsed.rows("thermometer-table") == [
        {"experiment": "hand_lr1e-4", "description": "hand_gradient; lr 0.01, 3 epochs, "
         "inputs x1.0", "w": "5", "b": "-17", "final loss": "29.5", "status": "converged"},
        {"experiment": "hand_lr1e-2", "description": "hand_gradient; lr 0.01, 4 epochs, "
         "inputs x1.0", "w": "3e+17", "b": "5e+15", "final loss": "—",
         "status": "diverged at epoch 3"}]
    assert '<tr class="diverged"><td>hand_lr1e-2' in page
    assert 'class="badge diverged"' in page and 'class="badge ok"' in page


def test_data_section_shows_each_datasets_facts(report):
    parsed, _, _, _ = report
    texts = parsed.texts
    assert [key.removeprefix("data-") for key in parsed.ids if key.startswith("data-")] == DATASETS
    assert "shape 3 × 24 × 32 layout channels, height, width" in texts["data-image_dog"]
    assert "batch 2 × 3 × 16 × 16 files cat1.png, cat2.png" in texts["data-image_cats"]
    assert ("volume 4 × 8 × 8 (depth, height, width) spacing 2.5 × 0.7 × 0.7 mm scan extent "
            "-10.0 to -2.5 mm HU range -1000 to 400 series uid: 1.2.3; modality: CT; slices: 4"
            in texts["data-ct"])
    assert ("The book's threshold predictor calls a wine good when its total sulfur dioxide is "
            "below 141.83: 20 predicted, 17 actually good, 9 both." in texts["data-wine"])
    assert "daily 6 × 17 × 24 (day, column, hour) filled hours 3" in texts["data-bikes"]
    assert TEXT_LINE in texts["data-text"]
    assert "vocabulary size 7,261 words in the text 124,592" in texts["data-text"]
    assert ("task airplane (0) vs bird (1) counts train: airplane: 5000; bird: 5000 "
            "normalization computed 2 raw images of each of the 10 CIFAR-10 classes"
            in texts["data-cifar2"])
    assert "raw-wine.bin sha256 " in texts["data-wine"]


def test_wine_group_means_table(report):
    parsed, _, _, _ = report
    wine = next(t for t in parsed.tables.values() if t[0][0] == "column")
    assert wine[0] == ["column", "bad (n=5)", "mid (n=30)", "good (n=5)"]
    assert wine[11] == ["total sulfur dioxide", "10", "11", "12"]


def test_provenance_section(report):
    parsed, _, _, _ = report
    assert ("git commit 0123456789abcdef0123 device CPU: test, 2 cores date "
            "2026-01-01T00:00:00+00:00" in parsed.texts["provenance"])
    assert parsed.rows("packages-table") == [{"package": "python", "version": "3.11.9"},
                                             {"package": "torch", "version": "2.14.1"}]
    assert "commit 0123456789ab · CPU: test, 2 cores" in parsed.text  # the subtitle
    config = parsed.text.split("configuration as run")[1]
    assert "book_accuracy: net: - 0.93 - 0.89" in config


def test_page_is_self_contained_with_every_figure(report):
    parsed, page, _, out = report
    assert_self_contained(page)
    assert [a.get("href") for a in parsed.ids.values() if a.get("href")] == []
    assert "Not run" not in page
    names = {p.stem for p in (out / "figures").glob("*.png")}
    assert names == FIGURES | {f"data_{name}" for name in DATASETS}
    assert page.count("<img ") == len(names)
    assert re.findall(r'<a href="#(\w+)">', page) == ["results", "claims", "curves", "cost",
                                                      "thermometer", "data", "provenance"]


def test_markup_in_names_and_values_is_escaped(synthetic, tmp_path):
    odd, device = "<b>x</b>", "<i>cpu</i> & co"
    run = write_run(tmp_path, odd, 0, arch="Net", train_acc=0.9, val_acc=0.8, n_params=10,
                    seconds_per_epoch=1.0, device=device)
    page, metrics = build(tmp_path, synthetic, runs=[run], configured_models=[odd, "net"],
                          book_accuracy={odd: [0.5, 0.5]}, data={}, thermometer=[],
                          benchmarks=[], datasets=[])
    assert odd not in page and "<i>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "&lt;i&gt;cpu&lt;/i&gt; &amp; co" in page
    parsed = Page(page)
    assert parsed.ids["winner"]["data-best"] == odd
    assert parsed.rows("accuracy-table")[0]["model"] == odd
    assert parsed.rows("runs-table")[0]["device"] == device
    assert metrics.model.tolist() == [odd]
    assert "Not run: model net, thermometer experiments" in parsed.text


def test_the_runs_table_and_metrics_name_the_gpu_a_run_claimed(synthetic, tmp_path):
    runs = [write_run(tmp_path, "net", seed, arch="Net", train_acc=0.9, val_acc=0.8,
                      n_params=10, seconds_per_epoch=1.0, device=device, gpu=gpu)
            for seed, device, gpu in ((0, "cuda:0 (NVIDIA H100)", "2"),
                                      (1, "cpu (2 threads)", None))]
    page, metrics = build(tmp_path, synthetic, runs=runs, configured_models=["net"],
                          book_accuracy={}, data={}, thermometer=[], benchmarks=[], datasets=[])
    assert [r["device"] for r in Page(page).rows("runs-table")] == [
        "cuda:0 (NVIDIA H100) · GPU 2", "cpu (2 threads)"]
    assert metrics.gpu.tolist()[0] in ("2", 2) and pd.isna(metrics.gpu.tolist()[1])


def test_subset_names_what_did_not_run(synthetic, tmp_path):
    runs = [r for r in synthetic["runs"] if r["model"] == "net"]
    data = {k: v for k, v in synthetic["data"].items() if k == "wine"}
    page, metrics = build(tmp_path, synthetic, runs=runs, data=data, thermometer=[],
                          benchmarks=[])
    parsed = Page(page)
    assert metrics.model.tolist() == ["net"]
    assert ("Not run: model width, model res_deep, dataset image_dog, dataset image_cats, "
            "dataset ct, dataset bikes, dataset text, dataset cifar2, thermometer experiments"
            in parsed.text)
    assert "net is the only model that ran: validation accuracy 0.850" in Page(page).text
    assert 'id="thermometer"' not in page and 'id="data-ct"' not in page
    assert 'id="data-wine"' in page and 'id="rules-table"' not in page
    figures = {p.stem for p in (tmp_path / "figures").glob("*.png")}
    assert figures == {"accuracy", "curves", "cost", "data_wine"}


def test_several_seeds_show_mean_and_spread(tmp_path):
    inputs = report_inputs(tmp_path, datasets=[], seeds=(0, 1))
    page, metrics = build(tmp_path, inputs, thermometer=[])
    assert metrics[["model", "seed"]].values.tolist()[:2] == [["net", 0], ["net", 1]]
    parsed = Page(page)
    net = parsed.rows("accuracy-table")[0]
    assert (net["seeds"], net["val acc"], net["train acc"]) == (
        "2", "0.855 0.850–0.860, σ 0.007", "0.905 0.900–0.910, σ 0.007")
    # every pair's gap is the same in both seeds (width − net 2.5 points): no spread over
    # seeds, no test, so no winner and no tie either
    assert parsed.texts["winner"].startswith(
        "No single winner: width is the highest on validation (0.880, 95% interval "
        "0.816–0.944), but not every model could be tested against it. Not tested against "
        "width (no spread over seeds, or fewer than two seeds in common; see comparisons.csv): "
        "net, res_deep.")
    assert parsed.ids["winner"]["data-untested"] == "net res_deep"
    assert parsed.tables["verdict-matrix"][1] == ["net", "", "", ""]
    assert "blank: not tested (no spread over seeds, or fewer than two seeds in common" in page
    comparisons = pd.read_csv(tmp_path / "comparisons.csv", dtype={"seed": str})
    assert comparisons.loc[comparisons["seed"] == "all", "verdict"].tolist() == [
        "not tested: no spread over seeds"] * 3
    assert "whiskers the 95% interval of the mean (Student t over seeds" in page


def test_three_seeds_give_t_intervals_seed_level_tests_and_claims(tmp_path):
    """RUNS over seeds 0-2 (LATER_SEEDS): intervals, the headline's test, the matrix and the
    claims are the seed-level ones."""
    inputs = report_inputs(tmp_path, datasets=[], seeds=(0, 1, 2))
    page, metrics = build(tmp_path, inputs, thermometer=[])
    parsed = Page(page)
    assert len(metrics) == 9
    net = {"val": [0.850, 0.860, 0.865], "train": [0.900, 0.910, 0.920]}
    _, _, low, high = mean_interval(net["val"])
    row = parsed.rows("accuracy-table")[0]
    assert row["val 95% interval"] == f"{low:.3f}–{high:.3f}" == "0.839–0.877"
    # the book's 0.89 is one run: outside the interval of our mean, inside the prediction
    # interval for one new run, 0.8583 +- 4.3027 x 0.00764 x sqrt(4/3) = 0.820 to 0.896
    low, high = prediction_interval(net["val"])
    assert (low, high) == pytest.approx((0.820388, 0.896279), abs=1e-6)
    assert row["reproduces the book?"] == "yes"
    assert parsed.rows("accuracy-table")[2]["reproduces the book?"] == "no: book above"
    assert "inside the 95% prediction interval for one new run of ours" in page
    comparisons = pd.read_csv(tmp_path / "comparisons.csv", dtype={"seed": str})
    level = comparisons[comparisons["seed"] == "all"].set_index(["model_a", "model_b"])
    # randomized-block t: models x seeds, residual mean square with (3-1)(3-1) = 4 df
    x = np.array([net["val"], [0.875, 0.885, 0.880], [0.700, 0.710, 0.690]])
    residual = x - x.mean(1, keepdims=True) - x.mean(0, keepdims=True) + x.mean()
    mse = (residual ** 2).sum() / 4
    t = (x[0].mean() - x[1].mean()) / np.sqrt(2 * mse / 3)
    assert level.loc[("net", "width"), "test"] == "randomized-block t over seeds"
    assert level.loc[("net", "width"), "p_value"] == pytest.approx(
        2 * stats.t.sf(abs(t), 4), rel=1e-9)
    assert level.loc[("net", "width"), "p_value"] == pytest.approx(0.02172, abs=1e-5)
    assert level.loc[("net", "width"), "verdict"] == "b better"
    assert parsed.texts["winner"].startswith(
        "width is the best model: validation accuracy 0.880 (95% interval 0.868–0.892), "
        "significantly better than every other model, the runner-up net (0.858) included "
        "(randomized-block t-test over 3 seeds with 4 error df, Holm-adjusted p = 0.022 "
        "against the runner-up).")
    assert parsed.tables["verdict-matrix"] == [
        ["", "net", "width", "res_deep"], ["net", "", "▼-2.2", "▲+15.8"],
        ["width", "▲+2.2", "", "▲+18.0"], ["res_deep", "▼-15.8", "▼-18.0", ""]]
    assert "interval of the mean (Student t over seeds" in parsed.texts["interval-note"]
    assert parsed.ids["claim-width"]["data-verdict"] == "supported"
    assert parsed.texts["claims-summary"] == (
        "1 supported, 0 not supported, 0 inconclusive. The 2 paired t-tests of training-set "
        "figures are not adjusted across the claims: where there is no real difference, each "
        "has a one-in-twenty chance of coming out significant.")
    parts = [t for t in parsed.tables.values() if t[0][0] == "comparison"]
    assert parts[0][1][:5] == ["width − net, training accuracy", "+4.5", "+2.3 to +6.7",
                               "0.012", "supported"]


def test_one_seed_claims_are_inconclusive_and_the_page_says_why(report):
    parsed, page, _, _ = report
    assert parsed.ids["claim-width"]["data-verdict"] == "inconclusive"
    assert "with one seed they are inconclusive" in parsed.texts["claims"]
    assert parsed.tables["verdict-matrix"][1] == ["net", "", "▼-2.5", "▲+15.0"]
    rows = pd.read_csv(parsed_dir(report) / "comparisons.csv")
    assert rows[["model_a", "model_b", "only_a_correct", "only_b_correct", "verdict"]
                ].values.tolist() == [["net", "width", 0, 50, "b better"],
                                      ["net", "res_deep", 300, 0, "a better"],
                                      ["width", "res_deep", 350, 0, "a better"]]


def parsed_dir(report) -> Path:
    return report[3]


def test_custom_model_without_book_accuracy(synthetic, tmp_path):
    book = {m: v for m, v in BOOK_ACCURACY.items() if m != "width"}
    page, metrics = build(tmp_path, synthetic, book_accuracy=book, data={}, thermometer=[],
                          benchmarks=[])
    assert metrics.loc[metrics.model == "width", ["book_train_acc", "book_val_acc"]].isna().all(
        axis=None)
    width = Page(page).rows("accuracy-table")[1]
    assert (width["book val"], width["book train"], width["val − book (points)"]) == (
        "—", "—", "—")
    assert 'id="data"' not in page and 'id="cost"' in page


def test_winner_sentence_for_one_model_and_for_the_fastest(synthetic, tmp_path):
    net, _, res_deep = synthetic["runs"]
    page, _ = build(tmp_path, synthetic, runs=[net], data={}, thermometer=[], benchmarks=[])
    assert Page(page).texts["winner"] == (
        "net is the only model that ran: validation accuracy 0.850 (95% interval 0.834–0.865), "
        "nothing to compare it with. net costs 18,090 parameters and 0.50 s per epoch on cpu "
        "(2 threads), 2.00 s for 2 epochs.")
    width = write_run(tmp_path / "runs", "width", 0, arch="NetWidth", train_acc=0.95,
                      val_acc=0.9, n_params=38386, seconds_per_epoch=1.5, diverged_epoch=2)
    page, _ = build(tmp_path, synthetic, runs=[net, width], data={}, thermometer=[],
                    benchmarks=[])
    assert Page(page).texts["winner"].startswith(
        "net is the only model that did not diverge: validation accuracy 0.850 (95% interval "
        "0.834–0.865), nothing to compare it with.")
    page, _ = build(tmp_path, synthetic, runs=[net, res_deep], data={}, thermometer=[],
                    benchmarks=[])
    assert Page(page).texts["winner"].endswith(
        "the runner-up res_deep (0.700) included (exact McNemar test on the 2,000 validation "
        "images, Holm-adjusted p < 0.0001 against the runner-up). net costs 18,090 parameters "
        "and 0.50 s per epoch on cpu (2 threads), 2.00 s for 2 epochs, and it is also the "
        "fastest model.")


def test_cost_table_says_when_cuda_graphs_were_dropped(synthetic, tmp_path):
    status = "off (GraphCheckError: batch size 16: losses 0.7 replayed, 0.69 eager)"
    run = write_run(tmp_path, "net", 0, arch="Net", train_acc=0.9, val_acc=0.8, n_params=10,
                    seconds_per_epoch=1.0, cuda_graphs=status)
    page, metrics = build(tmp_path, synthetic, runs=[run], data={}, thermometer=[],
                          benchmarks=[])
    (row,) = Page(page).rows("cost-table")
    assert row["engine"] == metrics.engine.item() == f"resident loop, CUDA graphs {status}"


def test_fits_follow_the_configured_order_and_keep_their_description(synthetic, tmp_path):
    described = write_fit(tmp_path, "nn_linear", description="nn.Linear(1, 1) <MSE>")
    page, _ = build(tmp_path, synthetic, thermometer=[described, *synthetic["thermometer"]],
                    experiments=["hand_lr1e-2", "nn_linear", "hand_lr1e-4"], runs=[], data={},
                    benchmarks=[])
    rows = Page(page).rows("thermometer-table")
    assert [r["experiment"] for r in rows] == ["hand_lr1e-2", "nn_linear", "hand_lr1e-4"]
    assert rows[1]["description"] == "nn.Linear(1, 1) <MSE>"
    assert 'id="results"' not in page and "Not run: model net, model width, model res_deep" in page


def test_benchmarks_alone_still_give_a_cost_section(synthetic, tmp_path):
    bench = write_benchmark(tmp_path, "ingest_dataset", "ct", 12.5, 2048.0)
    page, _ = build(tmp_path, synthetic, runs=[], data={}, thermometer=[], benchmarks=[bench])
    parsed = Page(page)
    assert parsed.rows("rules-table") == [{"rule": "ingest_dataset", "jobs": "1",
                                           "total s": "12.50", "longest job s": "12.50",
                                           "peak RSS MB": "2048"}]
    assert "cost-table" not in parsed.tables


@pytest.mark.parametrize("damage, problem", [
    ("summary_missing_key", "missing key(s): val_acc"),
    ("summary_of_another_run", "holds net/seed0, expected width/seed0"),
    ("metrics_missing_column", "missing column(s): val_acc"),
    ("unreadable_tensors", "cannot load tensors"),
    ("dataset_json_without_tensors", "missing key(s): tensors"),
    ("benchmark_without_seconds", "missing column(s): s"),
    ("thermometer_not_json", "cannot read JSON"),
    ("summary_not_json", "cannot read JSON"),
    ("model_truncated", "changed since it was trained"),
    ("metrics_edited", "changed since it was trained"),
])
def test_bad_input_raises_data_error_naming_the_file(synthetic, tmp_path, damage, problem):
    run = synthetic["runs"][0]
    bad = tmp_path / "bad"
    changes: dict[str, Any] = {"runs": [], "data": {}, "thermometer": [], "benchmarks": []}
    if damage == "summary_missing_key":
        write_json(bad, {k: v for k, v in read_json(run["summary"]).items() if k != "val_acc"})
        changes["runs"] = [{**run, "summary": bad}]
    elif damage == "summary_of_another_run":
        write_json(bad, read_json(run["summary"]))
        changes["runs"] = [{**run, "model": "width", "summary": bad}]
    elif damage == "metrics_missing_column":  # with a summary that recorded no digests
        pd.read_csv(run["metrics"]).drop(columns="val_acc").to_csv(bad, index=False)
        old_style = tmp_path / "summary.json"
        write_json(old_style, {k: v for k, v in read_json(run["summary"]).items() if k != "files"})
        changes["runs"] = [{**run, "summary": old_style, "metrics": bad}]
    elif damage == "unreadable_tensors":
        bad.write_bytes(b"not a torch file")
        changes["data"] = {"wine": {**synthetic["data"]["wine"], "pt": bad}}
    elif damage == "dataset_json_without_tensors":
        write_json(bad, {"dataset": "wine"})
        changes["data"] = {"wine": {**synthetic["data"]["wine"], "json": bad}}
    elif damage == "benchmark_without_seconds":
        bad.write_text("h:m:s\tmax_rss\n0:00:01\t10\n")
        changes["benchmarks"] = [bad]
    elif damage == "summary_not_json":
        bad.write_text('{"model": "net", "se')
        changes["runs"] = [{**run, "summary": bad}]
    elif damage == "model_truncated":
        bad.write_bytes(run["model_pt"].read_bytes()[:100])
        changes["runs"] = [{**run, "model_pt": bad.rename(bad.with_name("model.pt"))}]
        bad = bad.with_name("model.pt")
    elif damage == "metrics_edited":
        bad.write_text(run["metrics"].read_text().replace("0.8", "0.9"))
        changes["runs"] = [{**run, "metrics": bad.rename(bad.with_name("metrics.csv"))}]
        bad = bad.with_name("metrics.csv")
    else:
        bad.write_text("{not json")
        changes["thermometer"] = [bad]
    with pytest.raises(DataError) as error:
        build(tmp_path, synthetic, **changes)
    assert error.value.path == str(bad) and problem in str(error.value)
    assert "\n" not in str(error.value)
    if damage in ("summary_not_json", "model_truncated", "metrics_edited"):  # a training output
        summary = bad if damage == "summary_not_json" else run["summary"]
        assert str(error.value).endswith(f"rebuild the run with: snakemake --forcerun {summary}")
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("damage, problem", [
    ("edited", "changed since it was trained"),
    ("accuracy", "accuracy 1749/2000 = 0.874500 differs from val_acc 0.875 in summary.json; "
                 "rebuild the run with: snakemake --forcerun"),
    ("other_images", "its labels differ from"),
    ("index", "index is not 0, 1, ..., n-1 in order"),
    ("text", "column predicted holds non-integer values"),
])
def test_bad_predictions_raise_data_error_naming_the_file(synthetic, tmp_path, damage, problem):
    """val_predictions.csv is checked against the summary's digest, its val_acc, and the other
    runs' labels (paired tests need the same images in the same order)."""
    net, width, _ = synthetic["runs"]
    target = dict(width)
    bad = tmp_path / "width" / "val_predictions.csv"
    bad.parent.mkdir()
    frame = pd.read_csv(width["predictions"])
    if damage != "edited":  # a summary without digests, so the content check is what fails
        summary = read_json(width["summary"])
        del summary["files"]
        write_json(tmp_path / "width" / "summary.json", summary)
        target["summary"] = tmp_path / "width" / "summary.json"
    if damage in ("edited", "accuracy"):
        frame.loc[1749, "predicted"] = 1 - frame.loc[1749, "predicted"]  # one right image wrong
    elif damage == "other_images":
        frame["label"] = 1 - frame["label"]
        frame["predicted"] = 1 - frame["predicted"]  # same accuracy, other labels
    elif damage == "index":
        frame["index"] = frame["index"][::-1].to_numpy()
    else:
        frame["predicted"] = frame["predicted"].astype(str).replace("0", "airplane")
    frame.to_csv(bad, index=False)
    target["predictions"] = bad
    with pytest.raises(DataError) as error:
        build(tmp_path, synthetic, runs=[net, target], data={}, thermometer=[], benchmarks=[])
    assert error.value.path == str(bad) and problem in str(error.value), str(error.value)
    assert "\n" not in str(error.value)


def test_a_diverged_model_is_marked_and_never_the_winner(synthetic, tmp_path):
    runs = [r for r in synthetic["runs"] if r["model"] != "width"]
    # width has the best validation accuracy, but its run diverged at epoch 2 of 2
    runs.append(write_run(tmp_path / "runs", "width", 0, arch="NetWidth", train_acc=0.95,
                          val_acc=0.99, n_params=38386, seconds_per_epoch=1.5, diverged_epoch=2))
    page, metrics = build(tmp_path, synthetic, runs=runs, data={}, thermometer=[],
                          benchmarks=[])
    parsed = Page(page)
    assert parsed.ids["winner"]["data-model"] == "net"
    width = next(r for r in parsed.rows("accuracy-table") if r["model"].startswith("width"))
    assert width["model"] == "width diverged at epoch 2"
    assert "Diverged (the training loss stopped being a number" in parsed.text
    assert 'class="diverged"' in page
    assert metrics.set_index("model").loc["width", "diverged_epoch"] == 2
    assert metrics.set_index("model").loc[["net", "res_deep"], "diverged_epoch"].isna().all()


def test_no_winner_when_every_model_diverged_in_its_first_epoch(synthetic, tmp_path):
    """No finite epoch at all: null accuracies reach tables, figures and metrics.csv."""
    runs = [write_run(tmp_path / "runs", "net", 0, arch="Net", train_acc=None, val_acc=None,
                      n_params=18090, seconds_per_epoch=0.5, diverged_epoch=1)]
    page, metrics = build(tmp_path, synthetic, runs=runs, data={}, thermometer=[],
                          benchmarks=[])
    parsed = Page(page)
    assert parsed.texts["winner"] == "No winner: every model diverged."
    (row,) = parsed.rows("accuracy-table")
    assert (row["val acc"], row["val − book (points)"]) == ("—", "—")
    assert metrics["val_acc"].isna().all() and metrics["diverged_epoch"].tolist() == [1]
    assert (tmp_path / "metrics.csv").read_text().splitlines()[1].split(",")[5] == "1"


def test_a_seed_without_figures_does_not_count_in_the_spread(synthetic, tmp_path):
    runs = [write_run(tmp_path / "runs", "net", 0, arch="Net", train_acc=0.9, val_acc=0.875,
                      n_params=18090, seconds_per_epoch=0.5),
            write_run(tmp_path / "runs", "net", 1, arch="Net", train_acc=None, val_acc=None,
                      n_params=18090, seconds_per_epoch=0.5, diverged_epoch=1)]
    page, _ = build(tmp_path, synthetic, runs=runs, data={}, thermometer=[], benchmarks=[])
    (row,) = Page(page).rows("accuracy-table")
    assert row["seeds"] == "2" and row["val acc"] == "0.875"  # no "0.875–0.875, σ nan"
    assert row["model"] == "net diverged at epoch 1"


def test_provenance_lists_raw_files_that_differ_from_the_books(synthetic, tmp_path):
    wine = synthetic["data"]["wine"]
    changed = tmp_path / "wine.json"
    difference = {"path": "/data/p1ch4/tabular-wine/winequality-white.csv",
                  "expected": "sha256:" + "a" * 64, "actual": "sha256:" + "b" * 64}
    write_json(changed, read_json(wine["json"]) | {"raw_differences": [difference]})
    page, _ = build(tmp_path, synthetic, data={"wine": {**wine, "json": changed}},
                    thermometer=[], benchmarks=[])
    parsed = Page(page)
    assert parsed.rows("raw-differences-table") == [{
        "dataset": "wine", "file": difference["path"], "pinned": difference["expected"],
        "found": difference["actual"]}]
    assert "raw-differences-table" not in Page(build(tmp_path / "plain", synthetic)[0]).tables


# --- the real quick pipeline run ----------------------------------------------------------------

def pipeline_config() -> dict[str, Any]:
    """The configuration the quick run used: config.yaml with config/quick.yaml merged over it."""

    def merge(base: dict, over: dict) -> dict:
        return {k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict)
                else v for k, v in {**base, **over}.items()}

    return merge(yaml.safe_load((REPO / "config.yaml").read_text()),
                 yaml.safe_load((REPO / "config/quick.yaml").read_text()))


def pipeline_inputs(workdir: Path, config: dict[str, Any]) -> dict[str, Any]:
    """build_report's inputs gathered from a pipeline work dir, as scripts/make_report.py does."""
    results = workdir / "results"
    runs = [{"model": p.parent.parent.name, "seed": int(p.parent.name.removeprefix("seed")),
             "summary": p, "metrics": p.with_name("metrics.csv"),
             "predictions": p.with_name("val_predictions.csv")}
            for p in sorted(results.glob("train/*/seed*/summary.json"))]
    return {
        "data": {p.stem: {"pt": p.with_suffix(".pt"), "json": p}
                 for p in sorted(results.glob("data/*.json"))},
        "runs": runs,
        "thermometer": sorted(results.glob("thermometer/*.json")),
        "benchmarks": sorted(p for p in (workdir / "benchmarks").rglob("*.tsv")
                             if "make_report" not in p.parts),
        "provenance": {"config": config, "git_commit": "0123456789abcdef", "device": "cpu",
                       "packages": {"torch": "test"}, "date": "2026-01-01T00:00:00+00:00"},
        "configured_models": list(config["models"]),
        "datasets": config["datasets"],
        "experiments": list(config["thermometer"]["experiments"]),
        "book_accuracy": config["book_accuracy"],
        "ingest_options": {d: config["ingest"].get(d, {}) for d in config["datasets"]},
    }


@pytest.fixture(scope="module")
def pipeline(quick_pipeline: Path) -> dict[str, Any]:
    return pipeline_inputs(quick_pipeline, pipeline_config())


@pytest.fixture(scope="module")
def full_report(pipeline, tmp_path_factory) -> tuple[str, pd.DataFrame, Path]:
    out = tmp_path_factory.mktemp("report")
    page, metrics = build(out, pipeline)
    return page, metrics, out


def summaries(inputs: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([read_json(run["summary"]) for run in inputs["runs"]])


@pytest.mark.pipeline
def test_pipeline_metrics_csv_rows_equal_the_summaries(pipeline, full_report):
    _, metrics, _ = full_report
    expected = summaries(pipeline)
    assert len(metrics) == len(expected) == len(pipeline["configured_models"])
    columns = ["model", "arch", "seed", "train_acc", "val_acc", "diverged_epoch", "n_params",
               "seconds_per_epoch", "total_seconds", "device", "gpu", "engine", "epochs"]
    merged = metrics.merge(expected, on=["model", "seed"], suffixes=("", "_json"))
    assert len(merged) == len(metrics)
    for column in ("diverged_epoch", "gpu"):  # none diverged; no GPU on the CPU
        assert merged[column].isna().all() and merged[f"{column}_json"].isna().all()
    for column in [c for c in columns[3:] if c not in ("diverged_epoch", "gpu")] + ["arch"]:
        assert (merged[column] == merged[f"{column}_json"]).all(), column
    for model, row in metrics.set_index("model").iterrows():
        assert [row.book_train_acc, row.book_val_acc] == pipeline["book_accuracy"][model]
    assert metrics.loc[metrics.model == "res_deep", "resdeep_blocks"].item() == "shared"
    assert (metrics.engine == "resident loop").all()  # CUDA graphs are not tried on the CPU
    assert metrics.columns.tolist() == [*columns, "resdeep_blocks", "book_train_acc",
                                        "book_val_acc", "val_acc_ci_low", "val_acc_ci_high"]
    for row in metrics.itertuples():  # Wilson on the 2,000 validation images
        assert (row.val_acc_ci_low, row.val_acc_ci_high) == pytest.approx(
            wilson_interval(round(row.val_acc * 2000), 2000), abs=1e-15)


@pytest.mark.pipeline
def test_pipeline_tables_show_each_models_accuracies(pipeline, full_report):
    page, _, _ = full_report
    parsed = Page(page)
    expected = summaries(pipeline).set_index("model")
    runs = parsed.rows("runs-table")
    assert {r["model"] for r in runs} == set(expected.index)
    for row in runs:
        assert row["val acc"] == f"{expected.loc[row['model'], 'val_acc']:.3f}"
        assert row["train acc"] == f"{expected.loc[row['model'], 'train_acc']:.3f}"
    headline = {r["model"]: r for r in parsed.rows("accuracy-table")}
    assert list(headline) == pipeline["configured_models"]  # the config's (book's) order
    for model, row in headline.items():
        assert row["val acc"] == f"{expected.loc[model, 'val_acc']:.3f}"
        assert row["book val"] == f"{pipeline['book_accuracy'][model][1]:.3f}"


@pytest.mark.pipeline
def test_pipeline_winner_is_the_best_validation_accuracy(pipeline, full_report):
    page, _, _ = full_report
    expected = summaries(pipeline).groupby("model")["val_acc"].mean()
    headline = Page(page).ids["winner"]
    best, winner = headline["data-best"], headline["data-model"]
    assert expected[best] == expected.max()
    if winner:  # named only when significantly better than every other model
        assert winner == best and re.search(r'<tr class="winner"><td><strong>' + winner, page)
    else:
        assert best in headline["data-tied"].split()


@pytest.mark.pipeline
def test_pipeline_page_is_self_contained_and_light(full_report):
    page, _, out = full_report
    assert (out / "report.html").stat().st_size < MAX_PAGE_BYTES
    assert_self_contained(page)
    for section in ("results", "curves", "cost", "thermometer", "data", "provenance"):
        assert f'id="{section}"' in page
    assert 'class="badge diverged"' in page  # hand_lr1e-2 blows up, as in the book
    names = {p.stem for p in (out / "figures").glob("*.png")}
    datasets = {f"data_{name}" for name in ("image_dog", "image_cats", "ct", "wine", "bikes",
                                            "text", "cifar2")}
    assert names == FIGURES | datasets
    assert page.count("<img ") == len(names)


@pytest.mark.pipeline
def test_report_of_the_default_zoo_with_three_seeds_stays_under_5_mb(quick_pipeline, tmp_path):
    """The quick run's data, fits and benchmarks with the default config's 10 models x 3 seeds
    of 100 epochs: the largest page the default configuration makes."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    inputs = pipeline_inputs(quick_pipeline, pipeline_config())
    inputs |= {"runs": zoo_runs(tmp_path / "zoo", config), "configured_models":
               list(config["models"]), "book_accuracy": config["book_accuracy"]}
    page, metrics = build(tmp_path, inputs)
    size = (tmp_path / "report.html").stat().st_size
    assert size < MAX_PAGE_BYTES, size
    assert len(metrics) == 30
    parsed = Page(page)
    assert len(parsed.tables["verdict-matrix"]) == 11
    assert len(pd.read_csv(tmp_path / "comparisons.csv")) == 45 * 4
    assert {c.removeprefix("claim-") for c in parsed.ids if c.startswith("claim-")} == {
        "fc", "width", "l2", "dropout", "batch_norm", "res", "res_deep"}
