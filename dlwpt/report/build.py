"""Assemble the self-contained report page and results/metrics.csv from the pipeline's outputs:
Python reads, checks and computes; the templates (page.py) hold all markup and prose."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from dlwpt.io import atomic_path, write_text
from dlwpt.report import figures, stats
from dlwpt.report.claims import evaluate_claims, training_figures
from dlwpt.report.datasets import dataset_views
from dlwpt.report.figures import FigureSink
from dlwpt.report.formats import missing, points, seed_count, unsigned_points
from dlwpt.report.header import departures, not_comparable, shortened_by, what_ran
from dlwpt.report.inputs import best_line_loss, fit_converged, load_benchmarks, load_thermometer
from dlwpt.report.page import render_page
from dlwpt.report.sweeps import best_facts, sweeps_view
from dlwpt.report.trends import analyse
from dlwpt.report.verdicts import difference_words, verdict_label
from dlwpt.results import comparisons as c
from dlwpt.results.reading import CSV_COLUMNS, load_runs, read_checked_json


# Many parameters: one keyword per kind of input the page summarizes, as make_report.py
# passes them; a bundle would only rename them. Long: the page's sections, in page order.
def build_report(*, data: dict[str, dict[str, Path]], runs: list[dict], thermometer: list[Path],
                 benchmarks: list[Path], out_html: Path, out_csv: Path,
                 out_comparisons: Path, figures_dir: Path | None,
                 provenance: dict, configured_models: list[str], datasets: list[str],
                 experiments: list[str], book_accuracy: dict[str, list[float]],
                 ingest_options: dict[str, dict[str, Any]], changes: Any = None,
                 history_problem: str | None = None, rerun_command: str | None = None,
                 sweeps: dict[str, dict[str, Any]] | None = None,
                 sweep_runs: Sequence[dict] = (), book_config: dict | None = None) -> None:
    """Write the page, metrics.csv and comparisons.csv; an empty input drops its section.

    Sweep points' runs are checked with the zoo's and written to metrics.csv after them, but
    compared within their sweep only. `changes`: dlwpt.history's comparison with the previous
    run (None: none read, `history_problem` says why); `book_config`: config.yaml.
    """
    points = [p["run"] for spec in (sweeps or {}).values() for p in spec["points"]]
    point_ids = set(points) | {r["model"] for r in sweep_runs}
    everything, all_curves, correct = load_runs([*runs, *sweep_runs],
                                                [*configured_models, *points],
                                                book_accuracy, rerun_command)
    is_point = everything["model"].isin(point_ids)
    run_table = everything[~is_point].reset_index(drop=True)
    point_table = everything[is_point].reset_index(drop=True)
    curves = (all_curves[~all_curves["model"].isin(point_ids)].reset_index(drop=True)
              if not all_curves.empty else all_curves)
    per_model = stats.per_model_stats(run_table)
    comparisons = c.compare_runs(everything, correct, configured_models,
                                 training_figures(per_model, run_table, curves),
                                 sweeps={name: [p["run"] for p in spec["points"]]
                                         for name, spec in (sweeps or {}).items()})
    swept = analyse(sweeps, point_table)
    fits = load_thermometer(thermometer, experiments)
    rule_runs = load_benchmarks(benchmarks)
    sink = FigureSink(figures_dir)
    found = departures(provenance.get("config"), book_config, configured_models)
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    if changes is not None or history_problem:
        sections["changes"] = {"changes": changes, "problem": history_problem}
    with figures.style():  # the sections in any order: the page has its own
        if not run_table.empty:
            results = sections["results"] = results_view(per_model, run_table, comparisons, sink,
                                                         found)
            claims = evaluate_claims(comparisons, per_model, run_table, configured_models,
                                     swept)
            sections["claims"] = {"claims": claims, "several_seeds": results["several_seeds"]}
            top = {"ran": what_ran(run_table, provenance, found), "headline": results["headline"],
                   "claims": [(claim, shortened_by(claim, found)) for claim in claims]}
            sections["curves"] = {"figure": sink.figure(
                figures.training_curves(curves, list(per_model.index)), "curves",
                "training curves per model")}
        if swept:
            sections["sweeps"] = sweeps_view(swept, comparisons, sink)
        if not run_table.empty or not rule_runs.empty:
            sections["cost"] = cost_view(per_model, run_table, rule_runs, sink)
        if data:
            sections["data"] = {"datasets": dataset_views(data, ingest_options, sink)}
        if fits:
            sections["thermometer"] = thermometer_view(fits, sink)
    config = json.loads(json.dumps(provenance.get("config") or {}, default=str))
    sections["provenance"] = {  # raw files ingested although not the book's (data.verify off)
        "raw_differences": [{**d, "dataset": name, "expected": d["expected"] or "not pinned"}
                            for name, files in data.items()
                            for d in read_checked_json(files["json"]).get("raw_differences") or []],
        "config_yaml": yaml.safe_dump(config, sort_keys=False)}
    sections["glossary"] = {}  # the method's names, defined (the template's own words)
    ran, ran_points = set(run_table["model"]), set(point_table["model"])
    not_run = [*(("model", m) for m in configured_models if m not in ran),
               *(("dataset", d) for d in datasets if d not in data),
               *([("thermometer experiments", None)] if not fits else []),
               *(("sweep point", p) for p in points if p not in ran_points)]
    write_text(out_html, render_page(sections=sections, top=top, provenance=provenance,
                                     not_run=not_run))
    with atomic_path(out_csv) as tmp:
        metrics = run_table if point_table.empty else pd.concat([run_table, point_table],
                                                                ignore_index=True)
        metrics[list(CSV_COLUMNS)].to_csv(tmp, index=False)
    with atomic_path(out_comparisons) as tmp:
        comparisons[list(c.COMPARISON_COLUMNS)].to_csv(tmp, index=False)


def results_view(per_model: pd.DataFrame, run_table: pd.DataFrame, comparisons: pd.DataFrame,
                 sink: FigureSink, found: list[dict[str, Any]]) -> dict[str, Any]:
    """`found`: the departures from the book's settings (header.departures)."""
    scored = [m for m, row in per_model.iterrows()
              if not row.diverged_epochs and not missing(row.val_mean)]
    top = c.top_models(comparisons, scored)
    not_close = {m for m in scored
                 if c.outcome(top["rows"], top["best"], m) != c.NOT_DISTINGUISHABLE}
    models = [{
        "model": model, "stats": row, "winner": model == top["winner"],
        "best": model == top["best"] and top["winner"] is None and len(scored) > 1,
        "not_distinguishable": model in scored and model not in not_close,
        "seeds": seed_count(sorted({int(s) for s in
                                    run_table.loc[run_table["model"] == model, "seed"]})),
        "diverged": ", ".join(map(str, row.diverged_epochs)) or None,
        "delta": stats.book_delta_points(row),
        "reproduces": (": ".join(filter(None, ["not comparable",
                                               not_comparable(found, model, own=True)]))
                       if not_comparable(found, model) else stats.reproduces_book(row) or "—"),
    } for model, row in per_model.iterrows()]
    pairs = c.family_rows(comparisons, c.ALL_PAIRS)
    return {
        "headline": headline_view(top, per_model, pairs, run_table),
        "several_seeds": bool(per_model["n_seeds"].max() > 1),
        "n_val": run_table["n_val"].max(),
        "figure": sink.figure(figures.accuracy_chart(per_model, run_table, top["winner"]),
                              "accuracy", "train and validation accuracy per model with 95% "
                              "intervals, each seed and the book's values"),
        "models": models,
        "runs": list(run_table.assign(diverged=run_table["diverged_epoch"].notna()).itertuples()),
        "matrix": verdict_matrix(list(per_model.index), pairs, top["stated"]),
        "one_seed_pairs": int((pairs["test"] == c.MCNEMAR).sum()),
        "n_pairs": int(pairs["family_size"].max()) if pairs["family_size"].notna().any() else 0,
        "comparisons": list(comparisons.itertuples()),
    }


def headline_view(top: dict[str, Any], per_model: pd.DataFrame, pairs: pd.DataFrame,
                  runs: pd.DataFrame) -> dict[str, Any] | None:
    """The headline's facts, every one a lookup in the vs_best rows of comparisons.csv."""
    if top["best"] is None:
        return None
    best, rows = top["best"], top["rows"]
    row = per_model.loc[best]
    tested = rows[rows["verdict"].isin([c.A_BETTER, c.NOT_DISTINGUISHABLE])]
    own = runs[(runs["model"] == best) & runs["val_acc"].notna()]
    return {
        "best": best, "winner": top["winner"], "own": row,  # own: for its interval when alone
        **best_facts(top, tested, row.val_mean, sorted(int(s) for s in own["seed"])),
        "n_models": len(per_model),
        "detectable_best": unsigned_points(tested["detectable_80"].median()),
        "detectable_pairs": unsigned_points(
            pairs.loc[pairs["verdict"].isin(c.TESTED), "detectable_80"].median()),
    }


MARKS = {"better": ("▲", "better"), "worse": ("▼", "worse"),
         c.NOT_DISTINGUISHABLE: ("○", "nd"), c.DIVERGED: ("×", "diverged")}


def verdict_matrix(models: list[str], pairs: pd.DataFrame,
                   headline: pd.DataFrame) -> dict[str, Any]:
    """Row model against column model: the all_pairs rows, but the vs_best row (marked
    `headline`) where the headline states another verdict."""
    rows = [{"model": a, "cells": [matrix_cell(a, b, pairs, headline) if a != b else
                                   {"mark": "", "cls": "self", "text": "", "title": a}
                                   for b in models]} for a in models]
    return {"models": models, "rows": rows,
            "headline": any(cell.get("headline") for r in rows for cell in r["cells"])}


def matrix_cell(a: str, b: str, pairs: pd.DataFrame, headline: pd.DataFrame) -> dict[str, Any]:
    found, said = c.outcome(pairs, a, b), c.outcome(headline, a, b)
    stated = said not in (None, found)
    mark, cls = MARKS.get(said if stated else found, ("", "none"))
    row, flip = c.pair_row(headline if stated else pairs, a, b)
    tested = row is not None and not missing(row["p_value"])
    title = f"{a} vs {b}: " + ("not compared" if row is None else
                               verdict_label(row["verdict"], row["model_a"], row["model_b"])
                               + (f" ({difference_words(row, flip)})" if tested else ""))
    if stated:
        title += (f"; the headline's test, {row['model_a']} against each other model "
                  f"(Holm over {int(row['family_size'])})")
    return {"mark": mark, "cls": cls, "title": title, "headline": stated,
            "text": points((-1 if flip else 1) * row["diff"]) if tested else ""}


def cost_view(per_model: pd.DataFrame, run_table: pd.DataFrame, rule_runs: pd.DataFrame,
              sink: FigureSink) -> dict[str, Any]:
    per_model = per_model.assign(
        macs=per_model.index.map(stats.macs_per_image(run_table)),
        load=run_table.groupby("model", sort=False)["load_average"].agg(list))
    rules = stats.rule_stats(rule_runs)
    return {
        "figure": sink.figure(figures.cost_chart(per_model, rules), "cost", "multiply-"
                              "accumulates per image, parameters and runtime per rule"),
        "device": "; ".join(sorted(set(run_table["device"].astype(str)))),
        "models": list(per_model.reset_index().itertuples()),
        "rules": list(rules.reset_index().itertuples()),
        "jobs": list(rule_runs.itertuples()),
    }


def thermometer_view(fits: list[dict[str, Any]], sink: FigureSink) -> dict[str, Any]:
    return {
        "fits": [fit | {"final_loss": stats.final_loss(fit),
                        "converged": fit_converged(fit, stats.final_loss(fit)),
                        "best_loss": best_line_loss(fit["t_u"], fit["t_c"])} for fit in fits],
        "figure": sink.figure(figures.thermometer_chart(fits), "thermometer",
                              "thermometer data, fits and loss curves"),
    }
