"""The report built from a real quick pipeline run: values, winner, subsets, self-containment.

The full report is built once per module from the `quick_pipeline` work dir; subset reports call
`build_report` on subsets of the same real files (plus a real second seed trained here).
"""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from dlwpt.config import model_config
from dlwpt.io import DataError, read_json, write_json
from dlwpt.report import build_report
from dlwpt.train import train_model

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.pipeline  # needs the quick_pipeline run
MAX_PAGE_BYTES = 5_000_000
FIGURES = {"accuracy", "curves", "cost", "thermometer"}


def pipeline_config(workdir: Path) -> dict[str, Any]:
    """The configuration the quick run used: config.yaml with config/quick.yaml merged over it."""

    def merge(base: dict, over: dict) -> dict:
        return {k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict)
                else v for k, v in {**base, **over}.items()}

    return merge(yaml.safe_load((REPO / "config.yaml").read_text()),
                 yaml.safe_load((REPO / "config/quick.yaml").read_text()))


def report_inputs(workdir: Path, config: dict[str, Any]) -> dict[str, Any]:
    """build_report's inputs gathered from a pipeline work dir, as scripts/make_report.py does."""
    results = workdir / "results"
    runs = [{"model": p.parent.parent.name, "seed": int(p.parent.name.removeprefix("seed")),
             "summary": p, "metrics": p.with_name("metrics.csv")}
            for p in sorted(results.glob("train/*/seed*/summary.json"))]
    return {
        "config": config,
        "data": {p.stem: {"pt": p.with_suffix(".pt"), "json": p}
                 for p in sorted(results.glob("data/*.json"))},
        "runs": runs,
        "thermometer": sorted(results.glob("thermometer/*.json")),
        "benchmarks": sorted(p for p in (workdir / "benchmarks").rglob("*.tsv")
                             if "make_report" not in p.parts),
        "provenance": {"config": config, "git_commit": "0123456789abcdef", "device": "cpu",
                       "packages": {"torch": "test"}, "date": "2026-01-01T00:00:00+00:00"},
    }


def build(tmp: Path, inputs: dict[str, Any], **changes: Any) -> tuple[str, pd.DataFrame]:
    """Build a report into `tmp` (with figures) and return the page and metrics.csv."""
    kwargs = {**inputs, **changes}
    build_report(**kwargs, out_html=tmp / "report.html", out_csv=tmp / "metrics.csv",
                 figures_dir=tmp / "figures")
    return (tmp / "report.html").read_text(), pd.read_csv(tmp / "metrics.csv")


class Tables(HTMLParser):
    """Cell texts of every <table id=...>, and the attributes of every element with an id."""

    def __init__(self, page: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.ids: dict[str, dict[str, str]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if "id" in attributes:
            self.ids[attributes["id"]] = attributes
        if tag == "table":
            self._table = attributes.get("id", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table_id: str) -> list[dict[str, str]]:
        header, *body = self.tables[table_id]
        return [dict(zip(header, row, strict=True)) for row in body]


def summaries(inputs: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([read_json(run["summary"]) for run in inputs["runs"]])


@pytest.fixture(scope="module")
def inputs(quick_pipeline: Path) -> dict[str, Any]:
    return report_inputs(quick_pipeline, pipeline_config(quick_pipeline))


@pytest.fixture(scope="module")
def full_report(inputs, tmp_path_factory) -> tuple[str, pd.DataFrame, Path]:
    out = tmp_path_factory.mktemp("report")
    page, metrics = build(out, inputs)
    return page, metrics, out


def test_metrics_csv_rows_equal_the_summaries(inputs, full_report):
    _, metrics, _ = full_report
    expected = summaries(inputs)
    assert len(metrics) == len(expected) == len(inputs["config"]["models"])
    columns = ["model", "arch", "seed", "train_acc", "val_acc", "n_params", "seconds_per_epoch",
               "total_seconds", "device", "engine", "epochs"]
    merged = metrics.merge(expected, on=["model", "seed"], suffixes=("", "_json"))
    assert len(merged) == len(metrics)
    for column in columns[3:] + ["arch"]:
        assert (merged[column] == merged[f"{column}_json"]).all(), column
    for model, row in metrics.set_index("model").iterrows():
        assert [row.book_train_acc, row.book_val_acc] == inputs["config"]["book_accuracy"][model]
    assert metrics.loc[metrics.model == "res_deep", "resdeep_blocks"].item() == "shared"
    assert (metrics.engine == "resident loop").all()  # CUDA graphs are not tried on the CPU
    assert metrics.columns.tolist() == [*columns, "resdeep_blocks", "book_train_acc",
                                        "book_val_acc"]


def test_tables_show_each_models_accuracies(inputs, full_report):
    page, _, _ = full_report
    parsed = Tables(page)
    expected = summaries(inputs).set_index("model")
    runs = parsed.rows("runs-table")
    assert {r["model"] for r in runs} == set(expected.index)
    for row in runs:
        assert row["val acc"] == f"{expected.loc[row['model'], 'val_acc']:.3f}"
        assert row["train acc"] == f"{expected.loc[row['model'], 'train_acc']:.3f}"
    headline = {r["model"]: r for r in parsed.rows("accuracy-table")}
    assert list(headline) == list(inputs["config"]["models"])  # the config's (book's) order
    for model, row in headline.items():
        assert row["val acc"] == f"{expected.loc[model, 'val_acc']:.3f}"
        assert row["book val"] == f"{inputs['config']['book_accuracy'][model][1]:.3f}"


def test_winner_is_the_best_validation_accuracy(inputs, full_report):
    page, _, _ = full_report
    expected = summaries(inputs).groupby("model")["val_acc"].mean()
    parsed = Tables(page)
    winner = parsed.ids["winner"]["data-model"]
    assert expected[winner] == expected.max()
    assert "★" not in winner and re.search(r'<tr class="winner"><td><strong>' + winner, page)


def test_page_is_self_contained_and_light(full_report):
    page, _, out = full_report
    assert (out / "report.html").stat().st_size < MAX_PAGE_BYTES
    references = re.findall(r'\b(?:src|href)="([^"]*)"', page)
    assert references and all(r.startswith(("data:", "#")) for r in references), references
    assert not re.search(r"https?://", page.split("configuration as run")[0])
    assert "<script" not in page and 'rel="stylesheet"' not in page
    for section in ("results", "curves", "cost", "thermometer", "data", "provenance"):
        assert f'id="{section}"' in page
    assert 'class="badge diverged"' in page  # hand_lr1e-2 blows up, as in the book
    names = {p.stem for p in (out / "figures").glob("*.png")}
    datasets = {f"data_{name}" for name in ("image_dog", "image_cats", "ct", "wine", "bikes",
                                            "text", "cifar2")}
    assert names == FIGURES | datasets
    assert page.count("<img ") == len(names)


@pytest.fixture(scope="module")
def two_seeds(inputs, quick_pipeline, tmp_path_factory) -> dict[str, Any]:
    """Seed 0 of `net` and `l2` from the pipeline, plus a real seed 1 trained here (on 200
    images: the report only needs real files, and this keeps the test fast)."""
    out = tmp_path_factory.mktemp("seed1")
    config = inputs["config"]
    runs = [run for run in inputs["runs"] if run["model"] in ("net", "l2")]
    for model in ("net", "l2"):
        folder = out / model / "seed1"
        train_model(inputs["data"]["cifar2"]["pt"], folder / "model.pt", folder / "metrics.csv",
                    folder / "summary.json", model_name=model,
                    model_cfg=model_config(config, model), seed=1, device="cpu",
                    subsample=200)
        runs.append({"model": model, "seed": 1, "summary": folder / "summary.json",
                     "metrics": folder / "metrics.csv"})
    return {**inputs, "runs": runs,
            "data": {k: v for k, v in inputs["data"].items() if k in ("wine", "text")},
            "benchmarks": [b for b in inputs["benchmarks"] if "train_model" in b.parts]}


def test_subset_with_two_seeds_shows_only_what_ran(two_seeds, tmp_path):
    page, metrics = build(tmp_path, two_seeds, thermometer=[])
    assert metrics[["model", "seed"]].values.tolist() == [["net", 0], ["net", 1], ["l2", 0],
                                                          ["l2", 1]]  # the config's order
    parsed = Tables(page)
    assert [r["seeds"] for r in parsed.rows("accuracy-table")] == ["2", "2"]
    for row in parsed.rows("accuracy-table"):  # mean, then min–max and σ over the seeds
        mean = metrics.loc[metrics.model == row["model"], "val_acc"]
        assert row["val acc"].startswith(f"{mean.mean():.3f} {mean.min():.3f}–{mean.max():.3f}")
    assert "whiskers min–max, dots each seed" in page
    assert 'id="thermometer"' not in page and 'id="data-ct"' not in page
    assert 'id="data-wine"' in page and 'id="data-text"' in page
    assert "Not run: " in page and "model res_deep" in page and "thermometer" in page
    figures = {p.stem for p in (tmp_path / "figures").glob("*.png")}
    assert figures == {"accuracy", "curves", "cost", "data_wine", "data_text"}


def test_custom_model_without_book_accuracy(two_seeds, tmp_path):
    config = copy.deepcopy(two_seeds["config"])
    del config["book_accuracy"]["l2"]
    page, metrics = build(tmp_path, two_seeds, config=config, data={}, thermometer=[],
                          benchmarks=[])
    book = metrics.loc[metrics.model == "l2", ["book_train_acc", "book_val_acc"]]
    assert book.isna().all(axis=None)
    l2 = next(r for r in Tables(page).rows("accuracy-table") if r["model"].endswith("l2"))
    assert l2["book val"] == "—" and l2["val − book (points)"] == "—"
    assert 'id="data"' not in page and 'id="cost"' in page


def test_cost_table_says_when_cuda_graphs_were_dropped(inputs, tmp_path):
    run = next(r for r in inputs["runs"] if r["model"] == "net")
    status = "off (GraphCheckError: batch size 16: losses 0.7 replayed, 0.69 eager)"
    write_json(tmp_path / "summary.json", read_json(run["summary"]) | {"cuda_graphs": status})
    page, metrics = build(tmp_path, inputs, runs=[{**run, "summary": tmp_path / "summary.json"}],
                          data={}, thermometer=[], benchmarks=[])
    (row,) = Tables(page).rows("cost-table")
    assert row["engine"] == metrics.engine.item() == f"resident loop, CUDA graphs {status}"


def test_strings_are_escaped(inputs, tmp_path):
    run = next(r for r in inputs["runs"] if r["model"] == "net")
    summary = read_json(run["summary"]) | {"model": "<img src=x>", "device": "<b>cpu</b>"}
    write_json(tmp_path / "summary.json", summary)
    odd = {**run, "model": "<img src=x>", "summary": tmp_path / "summary.json"}
    page, _ = build(tmp_path, inputs, runs=[odd], data={}, thermometer=[], benchmarks=[])
    assert "<img src=x>" not in page and "&lt;img src=x&gt;" in page
    assert "<b>cpu</b>" not in page


@pytest.mark.parametrize("damage, problem", [
    ("summary_missing_key", "missing key(s): val_acc"),
    ("metrics_missing_column", "missing column(s): val_acc"),
    ("unreadable_tensors", "cannot load tensors"),
    ("benchmark_without_seconds", "missing column(s): s"),
    ("thermometer_not_json", "cannot read JSON"),
])
def test_bad_input_raises_data_error_naming_the_file(inputs, tmp_path, damage, problem):
    run = next(r for r in inputs["runs"] if r["model"] == "net")
    bad = tmp_path / "bad"
    changes: dict[str, Any] = {"runs": [], "data": {}, "thermometer": [], "benchmarks": []}
    if damage == "summary_missing_key":
        write_json(bad, {k: v for k, v in read_json(run["summary"]).items() if k != "val_acc"})
        changes["runs"] = [{**run, "summary": bad}]
    elif damage == "metrics_missing_column":
        pd.read_csv(run["metrics"]).drop(columns="val_acc").to_csv(bad, index=False)
        changes["runs"] = [{**run, "metrics": bad}]
    elif damage == "unreadable_tensors":
        bad.write_bytes(b"not a torch file")
        changes["data"] = {"wine": {**inputs["data"]["wine"], "pt": bad}}
    elif damage == "benchmark_without_seconds":
        bad.write_text("h:m:s\tmax_rss\n0:00:01\t10\n")
        changes["benchmarks"] = [bad]
    else:
        bad.write_text("{not json")
        changes["thermometer"] = [bad]
    with pytest.raises(DataError) as error:
        build(tmp_path, inputs, **changes)
    assert error.value.path == str(bad) and problem in str(error.value)
    assert not (tmp_path / "report.html").exists()
