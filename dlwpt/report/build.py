"""Assemble the self-contained report page and results/metrics.csv from the pipeline's outputs.

Python reads and checks the inputs, computes the statistics (stats.py), draws the figures and
formats every number; the templates under templates/ hold all markup and prose.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from dlwpt.io import atomic_path, write_text
from dlwpt.report import figures
from dlwpt.report.claims import book_claims
from dlwpt.report.comparisons import (
    ALL_SEEDS,
    BLOCK_T,
    COMPARISON_COLUMNS,
    MCNEMAR,
    compare_runs,
    deciding_rows,
    outcome,
    top_models,
)
from dlwpt.report.datasets import dataset_views
from dlwpt.report.figures import FigureSink
from dlwpt.report.formats import acc, integer, missing, number, p_value, points, seconds
from dlwpt.report.inputs import (
    CSV_COLUMNS,
    load_benchmarks,
    load_runs,
    load_thermometer,
    read_checked_json,
)
from dlwpt.report.page import render_page
from dlwpt.report.stats import (
    book_delta_points,
    fastest,
    final_loss,
    per_model_stats,
    reproduces_book,
    rule_stats,
)

SECTION_TITLES = {
    "results": "Results: accuracy per model",
    "claims": "The book's claims: chapter 8's lessons, tested",
    "curves": "Training curves",
    "cost": "Cost",
    "thermometer": "Learning mechanics: the thermometer (chapter 5)",
    "data": "Data",
    "provenance": "Provenance",
}


def build_report(*, data: dict[str, dict[str, Path]], runs: list[dict], thermometer: list[Path],
                 benchmarks: list[Path], out_html: Path, out_csv: Path,
                 out_comparisons: Path, figures_dir: Path | None,
                 provenance: dict, configured_models: list[str], datasets: list[str],
                 experiments: list[str], book_accuracy: dict[str, list[float]],
                 ingest_options: dict[str, dict[str, Any]]) -> None:
    """Write the report page (one self-contained HTML file), the per-run metrics table and
    the pairwise comparisons (comparisons.csv, see dlwpt.report.comparisons).

    Each run is {model, seed, summary, metrics, predictions (val_predictions.csv), model_pt
    (optional)}. `configured_models`, `datasets` and `experiments` are the configured names in
    config order (they set the tables' order and what the page names as not run);
    `book_accuracy` maps a model to the book's [train, val]; `ingest_options` a dataset to its
    `ingest` settings. Every input is optional in the sense that an empty list or dict drops
    its section, so the same function serves the full zoo and any subset a configuration
    selects.
    """
    run_table, curves, correct = load_runs(runs, configured_models, book_accuracy)
    comparisons = compare_runs(run_table, correct, configured_models)
    fits = load_thermometer(thermometer, experiments)
    rule_runs = load_benchmarks(benchmarks)
    sink = FigureSink(figures_dir)
    per_model = per_model_stats(run_table)
    sections: dict[str, dict[str, Any]] = {}
    with figures.style():
        if not run_table.empty:
            decisive = deciding_rows(comparisons)
            test = deciding_test(decisive, run_table)
            sections["results"] = results_view(per_model, run_table, comparisons, decisive,
                                               test, sink)
            claims = book_claims(per_model, run_table, curves, decisive, test)
            if claims:
                sections["claims"] = claims_view(claims, per_model, several_seeds(per_model))
            sections["curves"] = {"figure": sink.figure(
                figures.training_curves(curves, list(per_model.index)), "curves",
                "training curves per model")}
        if not run_table.empty or not rule_runs.empty:
            sections["cost"] = cost_view(per_model, rule_runs, sink)
        if fits:
            sections["thermometer"] = thermometer_view(fits, sink)
        if data:
            sections["data"] = {"datasets": dataset_views(data, ingest_options, sink)}
    sections["provenance"] = provenance_view(provenance, raw_differences(data))
    page = render_page(
        sections=sections, titles=SECTION_TITLES,
        subtitle={"date": provenance.get("date", ""),
                  "commit": str(provenance.get("git_commit", "unknown"))[:12],
                  "device": provenance.get("device", "")},
        not_run=not_run(configured_models, datasets, data, run_table, fits),
    )
    write_text(out_html, page)
    with atomic_path(out_csv) as tmp:
        run_table[list(CSV_COLUMNS)].to_csv(tmp, index=False)
    with atomic_path(out_comparisons) as tmp:
        comparisons[list(COMPARISON_COLUMNS)].to_csv(tmp, index=False)


def several_seeds(per_model: pd.DataFrame) -> bool:
    return bool(per_model["n_seeds"].max() > 1)


def deciding_test(decisive: pd.DataFrame, run_table: pd.DataFrame) -> str:
    """The deciding comparison in words, for the page's sentences: with several seeds, the
    seed-level tests as they were run (the seeds counted are those the rows used)."""
    level = decisive[decisive["seed"] == ALL_SEEDS] if not decisive.empty else decisive
    if not level.empty:
        tested = level[level["p_value"].notna()]
        if tested.empty:
            tested = level
        seeds = sorted(set(tested["n"].dropna().astype(int)))
        over = (f"{seeds[0]} seeds" if len(seeds) == 1
                else f"{seeds[0]}–{seeds[-1]} seeds" if seeds else "seeds")
        if (tested["test"] == BLOCK_T).all():
            k = int(len(set(tested["model_a"]) | set(tested["model_b"])))
            return (f"randomized-block t-test over {over} with "
                    f"{(k - 1) * (seeds[-1] - 1) if seeds else 0} error df")
        if (tested["test"] == BLOCK_T).any():
            return (f"t-tests over {over} (randomized-block within the complete block of "
                    "models × seeds, else paired over the seeds a pair shares)")
        return f"paired t-test over {over}"
    n = int(run_table["n_val"].max()) if not run_table.empty else 0
    return f"{MCNEMAR} test on the {n:,} validation images"


def interval(low: float, high: float, fmt=acc) -> str | None:
    """`low–high`; signed differences (points) as `low to high`, which reads better."""
    if missing(low) or missing(high):
        return None
    return f"{fmt(low)} to {fmt(high)}" if fmt is points else f"{fmt(low)}–{fmt(high)}"


def p_equals(p: float) -> str:
    text = p_value(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def spread(row: pd.Series, split: str) -> str | None:
    """`min–max, σ std` over the seeds that have figures, or None for fewer than two."""
    if row.n_scored < 2:
        return None
    return f"{acc(row[f'{split}_min'])}–{acc(row[f'{split}_max'])}, σ {row[f'{split}_std']:.3f}"


def results_view(per_model: pd.DataFrame, run_table: pd.DataFrame, comparisons: pd.DataFrame,
                 decisive: pd.DataFrame, test: str, sink: FigureSink) -> dict[str, Any]:
    top = top_models(per_model, decisive)
    quickest, time_ratio = fastest(per_model, top["best"])
    headline = None
    if top["best"] is not None:
        best = per_model.loc[top["best"]]
        runner_up = top["runner_up"]
        vs_runner_up = decisive[decisive["model_a"].isin([top["best"], runner_up])
                                & decisive["model_b"].isin([top["best"], runner_up])]
        headline = {
            "best": top["best"], "winner": top["winner"], "runner_up": runner_up,
            "tied": [{"model": m, "val": acc(per_model.loc[m, "val_mean"]),
                      "interval": interval(per_model.loc[m, "val_low"],
                                           per_model.loc[m, "val_high"])}
                     for m in top["tied"]],
            "runner_up_val": acc(per_model.loc[runner_up, "val_mean"]) if runner_up else None,
            "p": p_equals(vs_runner_up["p_adjusted"].iloc[0]) if len(vs_runner_up) else None,
            "untested": top["untested"], "n_models": len(per_model),
            "beaten": [m for m in per_model.index if outcome(decisive, top["best"], m)
                       == "better"],
            "test": test, "n_seeds": int(best.n_seeds),
            "params": integer(best.n_params), "seconds_per_epoch": seconds(best.seconds_per_epoch),
            "device": best.device, "total_seconds": seconds(best.total_seconds),
            "epochs": integer(best.epochs), "fastest": quickest,
            "time_ratio": None if time_ratio is None else f"{time_ratio:.1f}",
        }
    models = []
    for model, row in per_model.iterrows():
        delta = book_delta_points(row)
        models.append({
            "model": model, "winner": model == top["winner"],
            "tied": model in top["tied"] and len(top["tied"]) > 1,
            "seeds": integer(row.n_seeds),
            "diverged": ", ".join(map(str, row.diverged_epochs)) or None,
            "val": acc(row.val_mean), "val_spread": spread(row, "val"),
            "val_interval": interval(row.val_low, row.val_high) or "—",
            "train": acc(row.train_mean), "train_spread": spread(row, "train"),
            "book_val": acc(row.book_val), "book_train": acc(row.book_train),
            "delta": "—" if delta is None else f"{delta:+.1f}",
            "reproduces": reproduces_book(row) or "—",
            "params": integer(row.n_params), "seconds_per_epoch": seconds(row.seconds_per_epoch),
        })
    runs = [{"model": r.model, "seed": r.seed, "val": acc(r.val_acc),
             "val_interval": interval(r.val_acc_ci_low, r.val_acc_ci_high) or "—",
             "train": acc(r.train_acc),
             "epochs": integer(r.epochs), "seconds_per_epoch": seconds(r.seconds_per_epoch),
             # the GPU a run claimed (several jobs share a machine's GPUs): its machine name
             "device": r.device if missing(r.gpu) else f"{r.device} · GPU {r.gpu}",
             "diverged": None if pd.isna(r.diverged_epoch) else int(r.diverged_epoch)}
            for r in run_table.itertuples()]
    return {
        "headline": headline,
        "diverged": [m["model"] for m in models if m["diverged"]],
        "several_seeds": several_seeds(per_model),
        "n_val": integer(run_table["n_val"].max()),
        "figure": sink.figure(figures.accuracy_chart(per_model, run_table, top["winner"]),
                              "accuracy",
                              "train and validation accuracy per model with 95% intervals, "
                              "each seed and the book's values"),
        "models": models,
        "runs": runs,
        "matrix": verdict_matrix(list(per_model.index), decisive),
        "test": test,
        "comparisons": [comparison_row(r) for r in comparisons.itertuples()],
    }


MARKS = {"better": ("▲", "better"), "worse": ("▼", "worse"), "tie": ("=", "tie"),
         "diverged": ("×", "diverged"), None: ("", "none")}


def verdict_matrix(models: list[str], decisive: pd.DataFrame) -> dict[str, Any]:
    """Row model against column model: mark, class and the difference in points (row − col)."""
    diffs = {}
    for r in decisive.itertuples():
        diffs[(r.model_a, r.model_b)] = r.diff
        diffs[(r.model_b, r.model_a)] = -r.diff
    rows = []
    for row_model in models:
        cells = []
        for col_model in models:
            if row_model == col_model:
                cells.append({"mark": "", "cls": "self", "text": "", "title": row_model})
                continue
            found = outcome(decisive, row_model, col_model)
            mark, cls = MARKS[found]
            diff = diffs.get((row_model, col_model))
            text = points(diff) if found not in (None, "diverged") else ""
            cells.append({"mark": mark, "cls": cls, "text": text,
                          "title": f"{row_model} vs {col_model}: {found or 'not compared'}"
                                   + (f", {text} points" if text else "")})
        rows.append({"model": row_model, "cells": cells})
    return {"models": models, "rows": rows}


def comparison_row(r: Any) -> dict[str, Any]:
    def count(value: Any) -> str:
        return "—" if pd.isna(value) else f"{int(value):,}"

    return {"model_a": r.model_a, "model_b": r.model_b, "seed": r.seed, "test": r.test,
            "acc_a": acc(r.acc_a), "acc_b": acc(r.acc_b), "diff": points(r.diff),
            "only_a": count(r.only_a_correct), "only_b": count(r.only_b_correct),
            "p_value": p_value(r.p_value), "p_adjusted": p_value(r.p_adjusted),
            "verdict": r.verdict}


def claims_view(claims: list[Any], per_model: pd.DataFrame,
                several: bool) -> dict[str, Any]:
    def value(part: Any, number_: float | None) -> str:
        if number_ is None or missing(number_):
            return "—"
        if part.unit == "points":
            return points(number_)
        if part.unit == "epochs":
            return f"{number_:+.1f}"
        return acc(number_)

    def model_row(model: str) -> dict[str, str]:
        row = per_model.loc[model]
        return {"model": model, "train": acc(row.train_mean),
                "train_interval": interval(row.train_low, row.train_high) or "—",
                "val": acc(row.val_mean),
                "val_interval": interval(row.val_low, row.val_high) or "—",
                "gap": points(row.gap_mean),
                "gap_interval": interval(row.gap_low, row.gap_high, points) or "—",
                "book": f"{acc(row.book_train)} / {acc(row.book_val)}"}

    return {
        "several_seeds": several,
        "claims": [{
            "key": c.key, "statement": c.statement, "test": c.test, "verdict": c.verdict,
            "models": [model_row(m) for m in c.models],
            "parts": [{"what": p.what, "value": value(p, p.value),
                       "interval": "—" if p.low is None or missing(p.low)
                       else f"{value(p, p.low)} to {value(p, p.high)}",
                       "p": p_value(p.p), "outcome": p.outcome, "reason": p.reason}
                      for p in c.parts],
        } for c in claims],
        "counts": {v: sum(c.verdict == v for c in claims)
                   for v in ("supported", "not supported", "inconclusive")},
        # the claims' own t-tests (training set figures), not adjusted across claims
        "unadjusted": sum(p.p is not None and not p.holm for c in claims for p in c.parts),
    }


def cost_view(per_model: pd.DataFrame, rule_runs: pd.DataFrame,
              sink: FigureSink) -> dict[str, Any]:
    rules = rule_stats(rule_runs)
    resdeep = [{"model": model, "blocks": row.resdeep_blocks,
                # the summary records the depth it trained with; "?" for an older summary
                "n_blocks": int(row.n_blocks) if not missing(row.n_blocks) else "?",
                "params": integer(row.n_params)}
               for model, row in per_model[per_model["resdeep_blocks"].notna()].iterrows()]
    return {
        "resdeep": resdeep,
        "figure": sink.figure(figures.cost_chart(per_model, rules), "cost",
                              "seconds per epoch, parameters and runtime per rule"),
        "models": [{"model": m, "arch": r.arch, "device": r.device, "engine": r.engine,
                    "params": integer(r.n_params), "epochs": integer(r.epochs),
                    "seconds_per_epoch": seconds(r.seconds_per_epoch),
                    "total_seconds": seconds(r.total_seconds),
                    "blocks": r.resdeep_blocks if isinstance(r.resdeep_blocks, str) else "—"}
                   for m, r in per_model.iterrows()],
        "rules": [{"rule": r.Index, "jobs": r.jobs, "total_seconds": seconds(r.total_seconds),
                   "longest": seconds(r.longest), "max_rss_mb": number(r.max_rss_mb)}
                  for r in rules.itertuples()],
        "jobs": [{"rule": r.rule, "job": r.job, "seconds": seconds(r.seconds),
                  "max_rss_mb": number(r.max_rss_mb), "repeats": r.repeats}
                 for r in rule_runs.itertuples()],
    }


def thermometer_view(fits: list[dict[str, Any]], sink: FigureSink) -> dict[str, Any]:
    rows = []
    for fit in fits:
        params, final = fit.get("params") or {}, fit.get("final") or {}
        rows.append({
            "experiment": fit["experiment"], "description": fit.get("description"),
            "kind": fit["kind"], "lr": params.get("lr", "?"),
            "epochs": params.get("epochs", "?"), "input_scale": params.get("input_scale", "?"),
            "w": number(final.get("w")), "b": number(final.get("b")),
            "loss": number(final_loss(fit)), "diverged": bool(fit["diverged"]),
            "diverged_epoch": fit.get("diverged_epoch"),
        })
    return {
        "fits": rows,
        "diverged": [row["experiment"] for row in rows if row["diverged"]],
        "figure": sink.figure(figures.thermometer_chart(fits), "thermometer",
                              "thermometer data, fits and loss curves"),
    }


def raw_differences(data: dict[str, dict[str, Path]]) -> list[dict[str, Any]]:
    """Raw files ingested although they differ from the book's pinned ones (data.verify off)."""
    return [{**difference, "dataset": name, "expected": difference["expected"] or "not pinned"}
            for name, files in data.items()
            for difference in read_checked_json(files["json"]).get("raw_differences") or []]


def provenance_view(provenance: dict[str, Any],
                    differences: list[dict[str, Any]]) -> dict[str, Any]:
    """What produced this page: config as run, commit, package versions, device, date, and
    which raw files were not the book's."""
    config = json.loads(json.dumps(provenance.get("config") or {}, default=str))
    return {
        "raw_differences": differences,
        "git_commit": provenance.get("git_commit", "unknown"),
        "device": provenance.get("device", "unknown"),
        "date": provenance.get("date", "unknown"),
        "packages": sorted((provenance.get("packages") or {}).items()),
        "config_yaml": yaml.safe_dump(config, sort_keys=False),
    }


def not_run(models: list[str], datasets: list[str], data: dict[str, Any],
            run_table: pd.DataFrame, fits: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """What the configuration lists but this report has no outputs for, as (kind, name)."""
    ran = set(run_table["model"])
    return [*(("model", m) for m in models if m not in ran),
            *(("dataset", d) for d in datasets if d not in data),
            *([("thermometer experiments", None)] if not fits else [])]
