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
from dlwpt.report.datasets import dataset_views
from dlwpt.report.figures import FigureSink
from dlwpt.report.formats import acc, integer, missing, number, seconds
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
    final_loss,
    per_model_stats,
    ranking,
    rule_stats,
)

SECTION_TITLES = {
    "results": "Results: accuracy per model",
    "curves": "Training curves",
    "cost": "Cost",
    "thermometer": "Learning mechanics: the thermometer (chapter 5)",
    "data": "Data",
    "provenance": "Provenance",
}


def build_report(*, data: dict[str, dict[str, Path]], runs: list[dict], thermometer: list[Path],
                 benchmarks: list[Path], out_html: Path, out_csv: Path, figures_dir: Path | None,
                 provenance: dict, configured_models: list[str], datasets: list[str],
                 experiments: list[str], book_accuracy: dict[str, list[float]],
                 ingest_options: dict[str, dict[str, Any]]) -> None:
    """Write the report page (one self-contained HTML file) and the per-run metrics table.

    `configured_models`, `datasets` and `experiments` are the configured names in config order
    (they set the tables' order and what the page names as not run); `book_accuracy` maps a
    model to the book's [train, val]; `ingest_options` a dataset to its `ingest` settings. Every
    input is
    optional in the sense that an empty list or dict drops its section, so the same function
    serves the full zoo and any subset a configuration selects.
    """
    run_table, curves = load_runs(runs, configured_models, book_accuracy)
    fits = load_thermometer(thermometer, experiments)
    rule_runs = load_benchmarks(benchmarks)
    sink = FigureSink(figures_dir)
    per_model = per_model_stats(run_table)
    sections: dict[str, dict[str, Any]] = {}
    with figures.style():
        if not run_table.empty:
            sections["results"] = results_view(per_model, run_table, sink)
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


def spread(row: pd.Series, split: str) -> str | None:
    """`min–max, σ std` over the seeds that have figures, or None for fewer than two."""
    if row.n_scored < 2:
        return None
    return f"{acc(row[f'{split}_min'])}–{acc(row[f'{split}_max'])}, σ {row[f'{split}_std']:.3f}"


def results_view(per_model: pd.DataFrame, run_table: pd.DataFrame,
                 sink: FigureSink) -> dict[str, Any]:
    rank = ranking(per_model)
    best = per_model.loc[rank["best"]] if rank["best"] else None
    winner = None if best is None else {
        "model": rank["best"], "val": acc(best.val_mean), "n_seeds": int(best.n_seeds),
        "val_min": acc(best.val_min), "val_max": acc(best.val_max),
        "second": rank["second"],
        "second_val": acc(per_model.loc[rank["second"], "val_mean"]) if rank["second"] else None,
        "margin": f"{rank['margin_points']:.1f}" if rank["second"] else None,
        "params": integer(best.n_params), "seconds_per_epoch": seconds(best.seconds_per_epoch),
        "device": best.device, "total_seconds": seconds(best.total_seconds),
        "epochs": integer(best.epochs),
        "fastest": rank["fastest"],
        "time_ratio": None if rank["time_ratio"] is None else f"{rank['time_ratio']:.1f}",
    }
    models = []
    for model, row in per_model.iterrows():
        delta = book_delta_points(row)
        models.append({
            "model": model, "winner": model == rank["best"], "seeds": integer(row.n_seeds),
            "diverged": ", ".join(map(str, row.diverged_epochs)) or None,
            "val": acc(row.val_mean), "val_spread": spread(row, "val"),
            "train": acc(row.train_mean), "train_spread": spread(row, "train"),
            "book_val": acc(row.book_val), "book_train": acc(row.book_train),
            "delta": "—" if delta is None else f"{delta:+.1f}",
            "params": integer(row.n_params), "seconds_per_epoch": seconds(row.seconds_per_epoch),
        })
    runs = [{"model": r.model, "seed": r.seed, "val": acc(r.val_acc), "train": acc(r.train_acc),
             "epochs": integer(r.epochs), "seconds_per_epoch": seconds(r.seconds_per_epoch),
             "device": r.device,
             "diverged": None if pd.isna(r.diverged_epoch) else int(r.diverged_epoch)}
            for r in run_table.itertuples()]
    return {
        "winner": winner,
        "diverged": [m["model"] for m in models if m["diverged"]],
        "several_seeds": bool(per_model["n_seeds"].max() > 1),
        "figure": sink.figure(figures.accuracy_chart(per_model, run_table, rank["best"]),
                              "accuracy",
                              "train and validation accuracy per model, with the book's values"),
        "models": models,
        "runs": runs,
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
