"""Assemble the self-contained report page and results/metrics.csv from the pipeline's outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from dlwpt.io import atomic_path, write_text
from dlwpt.report import figures
from dlwpt.report.datasets import dataset_sections, dl
from dlwpt.report.figures import FigureSink
from dlwpt.report.html import (
    Markup,
    acc,
    details,
    esc,
    integer,
    join,
    missing,
    number,
    seconds,
    section,
    table,
    tag,
)
from dlwpt.report.inputs import (
    CSV_COLUMNS,
    finite_series,
    load_benchmarks,
    load_runs,
    load_thermometer,
)
from dlwpt.report.page import STYLE, TEMPLATE

SECTION_TITLES = {
    "results": "Results: accuracy per model",
    "curves": "Training curves",
    "cost": "Cost",
    "thermometer": "Learning mechanics: the thermometer (chapter 5)",
    "data": "Data",
    "provenance": "Provenance",
}


def build_report(*, config: dict, data: dict[str, dict[str, Path]], runs: list[dict],
                 thermometer: list[Path], benchmarks: list[Path], out_html: Path, out_csv: Path,
                 provenance: dict, figures_dir: Path | None = None) -> None:
    """Write the report page (one self-contained HTML file) and the per-run metrics table.

    Every input is optional in the sense that an empty list or dict drops its section, so the
    same function serves the full zoo and any subset a configuration selects.
    """
    run_table, curves = load_runs(runs, config)
    experiments = load_thermometer(thermometer, config)
    rule_runs = load_benchmarks(benchmarks)
    sink = FigureSink(figures_dir)
    sections: dict[str, Markup] = {}
    per_model = per_model_stats(run_table)
    with figures.style():
        if not run_table.empty:
            sections["results"] = results_section(per_model, run_table, sink)
            sections["curves"] = curves_section(curves, list(per_model.index), sink)
        if not run_table.empty or not rule_runs.empty:
            sections["cost"] = cost_section(per_model, rule_runs, config, sink)
        if experiments:
            sections["thermometer"] = thermometer_section(experiments, sink)
        if data:
            sections["data"] = section("data", SECTION_TITLES["data"],
                                       *dataset_sections(data, config, sink))
    sections["provenance"] = provenance_section(provenance)
    page = render_page(sections, provenance, not_run_note(config, data, run_table, experiments))
    write_text(out_html, page)
    with atomic_path(out_csv) as tmp:
        run_table[list(CSV_COLUMNS)].to_csv(tmp, index=False)


def per_model_stats(run_table: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over seeds per model, in the run table's (config) order."""
    grouped = run_table.groupby("model", sort=False)
    stats = grouped.agg(
        arch=("arch", "first"), n_seeds=("seed", "nunique"),
        train_mean=("train_acc", "mean"), train_min=("train_acc", "min"),
        train_max=("train_acc", "max"), train_std=("train_acc", "std"),
        val_mean=("val_acc", "mean"), val_min=("val_acc", "min"),
        val_max=("val_acc", "max"), val_std=("val_acc", "std"),
        n_params=("n_params", "first"), epochs=("epochs", "max"),
        seconds_per_epoch=("seconds_per_epoch", "mean"),
        total_seconds=("total_seconds", "mean"),
        resdeep_blocks=("resdeep_blocks", "first"), n_blocks=("n_blocks", "first"),
        book_train=("book_train_acc", "first"), book_val=("book_val_acc", "first"),
    )
    for column in ("device", "engine"):
        stats[column] = grouped[column].agg(lambda d: "; ".join(sorted(set(map(str, d)))))
    return stats


def winner_sentence(per_model: pd.DataFrame) -> Markup:
    """Who wins on validation accuracy, by how much, and what it costs against the fastest."""
    ranked = per_model.sort_values("val_mean", ascending=False)
    best, row = ranked.index[0], ranked.iloc[0]
    parts = [tag("strong", best), f" has the best validation accuracy, {acc(row.val_mean)}"]
    if row.n_seeds > 1:
        parts.append(f" (mean of {row.n_seeds} seeds, {acc(row.val_min)}–{acc(row.val_max)})")
    if len(ranked) > 1:
        second = ranked.iloc[1]
        margin = 100 * (row.val_mean - second.val_mean)
        parts += [f", {margin:.1f} points ahead of ", tag("strong", ranked.index[1]),
                  f" ({acc(second.val_mean)})"]
    parts.append(f". It costs {integer(row.n_params)} parameters and "
                 f"{seconds(row.seconds_per_epoch)} s per epoch on {row.device}, "
                 f"{seconds(row.total_seconds)} s for {integer(row.epochs)} epochs")
    fastest = per_model["seconds_per_epoch"].idxmin()
    if len(ranked) > 1 and fastest != best:
        ratio = row.seconds_per_epoch / per_model.loc[fastest, "seconds_per_epoch"]
        parts += [f": {ratio:.1f}× the time per epoch of the fastest model, ",
                  tag("strong", fastest), "."]
    elif len(ranked) > 1:
        parts.append(", and it is also the fastest model.")
    else:
        parts.append(".")
    return tag("p", *parts, class_="lead", id="winner", data_model=best)


def seeds_note(per_model: pd.DataFrame) -> str:
    if per_model["n_seeds"].max() == 1:
        return ("One seed per model: differences of a point or two between models may be "
                "noise. Run more seeds (train.seeds) to see the spread.")
    return ("Bars are means over seeds, whiskers min–max, dots each seed; the table gives "
            "mean, min–max and standard deviation.")


def spread(row: pd.Series, split: str) -> Markup:
    mean = acc(row[f"{split}_mean"])
    if row.n_seeds == 1:
        return esc(mean)
    return join([mean, tag("span", f"{acc(row[f'{split}_min'])}–{acc(row[f'{split}_max'])}, "
                                    f"σ {row[f'{split}_std']:.3f}", class_="spread")], " ")


def results_section(per_model: pd.DataFrame, run_table: pd.DataFrame,
                    sink: FigureSink) -> Markup:
    winner = per_model["val_mean"].idxmax()
    rows, classes = [], []
    for model, row in per_model.iterrows():
        delta = row.val_mean - row.book_val if not missing(row.book_val) else None
        rows.append([tag("strong", model) if model == winner else model, integer(row.n_seeds),
                     spread(row, "val"), spread(row, "train"),
                     acc(row.book_val), acc(row.book_train),
                     "—" if delta is None else f"{round(100 * delta, 1) + 0.0:+.1f}",
                     integer(row.n_params), seconds(row.seconds_per_epoch)])
        classes.append("winner" if model == winner else None)
    header = ["model", "seeds", "val acc", "train acc", "book val", "book train",
              "val − book (points)", "parameters", "s / epoch"]
    per_run = table(["model", "seed", "val acc", "train acc", "epochs", "s / epoch", "device"],
                    ([r.model, r.seed, acc(r.val_acc), acc(r.train_acc), integer(r.epochs),
                      seconds(r.seconds_per_epoch), r.device]
                     for r in run_table.itertuples()), right=range(1, 6), id="runs-table")
    return section(
        "results", SECTION_TITLES["results"],
        winner_sentence(per_model),
        tag("p", seeds_note(per_model), class_="note"),
        sink.figure(figures.accuracy_chart(per_model, run_table, winner), "accuracy",
                    "train and validation accuracy per model, with the book's values"),
        table(header, rows, right=range(1, 9), row_classes=classes, id="accuracy-table"),
        details(f"every run ({len(run_table)})", per_run),
    )


def curves_section(curves: pd.DataFrame, models: list[str], sink: FigureSink) -> Markup:
    return section(
        "curves", SECTION_TITLES["curves"],
        tag("p", "One panel per model: accuracy per epoch above, training loss below; all "
                 "panels share their axes.", class_="note"),
        sink.figure(figures.training_curves(curves, models), "curves",
                    "training curves per model"),
    )


def resdeep_notes(per_model: pd.DataFrame, config: dict[str, Any]) -> list[Markup]:
    """Which NetResDeep variant ran: the book's shared block, or independent blocks."""
    notes = []
    for model, row in per_model[per_model["resdeep_blocks"].notna()].iterrows():
        n_blocks = int(row.n_blocks) if not missing(row.n_blocks) else (
            (config.get("models") or {}).get(model) or {}).get("n_blocks", "n_blocks")
        how = ("one ResBlock object applied {n} times, as the book's "
               "n_blocks * [ResBlock(...)] does" if row.resdeep_blocks == "shared"
               else "{n} independent ResBlocks, each with its own weights")
        notes.append(tag("p", tag("strong", model), " ran with ",
                         tag("span", f"{row.resdeep_blocks} blocks", class_="badge"),
                         f" ({how.format(n=n_blocks)}): {integer(row.n_params)} parameters."))
    return notes


def cost_section(per_model: pd.DataFrame, rule_runs: pd.DataFrame, config: dict[str, Any],
                 sink: FigureSink) -> Markup:
    rules = rule_runs.groupby("rule").agg(jobs=("job", "size"),
                                          total_seconds=("seconds", "sum"),
                                          longest=("seconds", "max"),
                                          max_rss_mb=("max_rss_mb", "max"))
    parts: list[Markup] = [*resdeep_notes(per_model, config),
                           sink.figure(figures.cost_chart(per_model, rules), "cost",
                                       "seconds per epoch, parameters and runtime per rule")]
    if not per_model.empty:
        parts.append(table(
            ["model", "arch", "device", "engine", "parameters", "epochs", "s / epoch",
             "total s", "ResDeep blocks"],
            ([m, r.arch, r.device, r.engine, integer(r.n_params), integer(r.epochs),
              seconds(r.seconds_per_epoch), seconds(r.total_seconds),
              r.resdeep_blocks if isinstance(r.resdeep_blocks, str) else "—"]
             for m, r in per_model.iterrows()), right=range(4, 8), id="cost-table"))
    if not rules.empty:
        parts += [
            tag("h3", "Runtime of every rule (Snakemake benchmarks)"),
            table(["rule", "jobs", "total s", "longest job s", "peak RSS MB"],
                  ([r.Index, r.jobs, seconds(r.total_seconds), seconds(r.longest),
                    number(r.max_rss_mb)] for r in rules.itertuples()),
                  right=range(1, 5), id="rules-table"),
            details(f"every job ({len(rule_runs)})", table(
                ["rule", "job", "s", "peak RSS MB", "repeats"],
                ([r.rule, r.job, seconds(r.seconds), number(r.max_rss_mb), r.repeats]
                 for r in rule_runs.itertuples()), right=range(2, 5))),
        ]
    return section("cost", SECTION_TITLES["cost"], *parts)


def thermometer_section(experiments: list[dict[str, Any]], sink: FigureSink) -> Markup:
    diverged = [e["experiment"] for e in experiments if e["diverged"]]
    rows, classes = [], []
    for exp in experiments:
        params, final = exp.get("params") or {}, exp.get("final") or {}
        description = exp.get("description") or (
            f"{exp['kind']}; lr {params.get('lr', '?')}, {params.get('epochs', '?')} epochs, "
            f"inputs x{params.get('input_scale', '?')}")
        losses = finite_series(exp["loss"])
        last_loss = final.get("loss") if not missing(final.get("loss")) else (
            None if exp["diverged"] or not np.isfinite(losses).any()
            else float(losses[np.isfinite(losses)][-1]))
        epoch = f" at epoch {exp['diverged_epoch']}" if exp.get("diverged_epoch") else ""
        status = (tag("span", f"diverged{epoch}", class_="badge diverged") if exp["diverged"]
                  else tag("span", "converged", class_="badge ok"))
        rows.append([exp["experiment"], description, number(final.get("w")),
                     number(final.get("b")), number(last_loss), status])
        classes.append("diverged" if exp["diverged"] else None)
    summary = (f"{len(diverged)} of {len(experiments)} runs diverged: {', '.join(diverged)} "
               "(the loss blew up; no fit is drawn)." if diverged
               else f"All {len(experiments)} runs converged.")
    return section(
        "thermometer", SECTION_TITLES["thermometer"],
        tag("p", "Fitting Celsius t_c from the unknown-unit readings t_u, by hand-written "
                 "gradients, autograd, optimizers and nn modules. ", tag("strong", summary)),
        sink.figure(figures.thermometer_chart(experiments), "thermometer",
                    "thermometer data, fits and loss curves"),
        table(["experiment", "description", "w", "b", "final loss", "status"], rows,
              right=range(2, 5), row_classes=classes, id="thermometer-table"),
    )


def provenance_section(provenance: dict[str, Any]) -> Markup:
    """What produced this page: config as run, commit, package versions, device, date."""
    config = json.loads(json.dumps(provenance.get("config") or {}, default=str))
    packages = provenance.get("packages") or {}
    return section(
        "provenance", SECTION_TITLES["provenance"],
        dl(git_commit=tag("code", provenance.get("git_commit", "unknown")),
           device=provenance.get("device", "unknown"), date=provenance.get("date", "unknown")),
        table(["package", "version"], sorted(packages.items()), id="packages-table")
        if packages else Markup(""),
        details("configuration as run", tag("pre", yaml.safe_dump(config, sort_keys=False))),
    )


def not_run_note(config: dict[str, Any], data: dict[str, Any], run_table: pd.DataFrame,
                 experiments: list[dict[str, Any]]) -> Markup:
    """Name what the configuration lists but this report has no outputs for."""
    absent = [*(f"model {m}" for m in config.get("models") or {}
                if m not in set(run_table["model"])),
              *(f"dataset {d}" for d in config.get("datasets") or [] if d not in data)]
    if not experiments:
        absent.append("thermometer experiments")
    return tag("p", "Not run: ", ", ".join(absent), class_="note") if absent else Markup("")


def render_page(sections: dict[str, Markup], provenance: dict[str, Any],
                not_run: Markup) -> str:
    nav = join((tag("a", SECTION_TITLES[key].split(":")[0], href=f"#{key}")
                for key in sections), " ")
    body = join(sections.values())
    subtitle = (f"{provenance.get('date', '')} · commit "
                f"{str(provenance.get('git_commit', 'unknown'))[:12]} · "
                f"{provenance.get('device', '')}")
    return TEMPLATE.substitute(style=STYLE, nav=nav, body=body, subtitle=esc(subtitle),
                               not_run=not_run)
