"""Matplotlib figures of the report, embedded as base64 images. Built on `Figure`, not pyplot:
no global state or GUI backend leaks between builds in one process."""

import base64
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator
from PIL import Image

from dlwpt.io import atomic_path
from dlwpt.report.inputs import finite_series
from dlwpt.report.trends import CURVES, SweepResult, in_series, linear_up_to, position
from dlwpt.runs import Sweep, same, value_text

DPI = 110
JPEG_QUALITY = 85
TRAIN_COLOR, VAL_COLOR, LOSS_COLOR = "#4c72b0", "#dd8452", "#55a868"
DIVERGED_COLOR = "#c0392b"
LOSS_CEILING = 1e30  # a diverged loss runs off the top of its panel instead of breaking the axis
STYLE = {
    # at DPI 110 a point is 1.5 px: 8 pt is 12 px, legible when the page shrinks a wide figure
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": DPI,
    "savefig.dpi": DPI, "figure.facecolor": "white", "svg.hashsalt": "dlwpt"}


def style() -> Any:
    """The report's look, applied while figures are created and saved."""
    return matplotlib.rc_context(STYLE)


@dataclass(frozen=True)
class Picture:
    """An embedded image as the page shows it: a data: URI and its size in pixels."""

    src: str
    alt: str
    width: int
    height: int


@dataclass(frozen=True)
class FigureSink:
    """Figures as self-contained Pictures: plots as PNG, photos as JPEG (several times smaller,
    the page stays light); saved as `<figures_dir>/<name>.png` when there is a figures_dir."""

    figures_dir: Path | None

    def figure(self, fig: Figure | Image.Image, name: str, alt: str, *,
               photo: bool = False) -> Picture:
        png = io.BytesIO()
        if isinstance(fig, Figure):
            fig.savefig(png, format="png", metadata={"Software": None})
        else:
            fig.save(png, format="PNG")
        if self.figures_dir is not None:
            with atomic_path(self.figures_dir / f"{name}.png") as tmp:
                tmp.write_bytes(png.getvalue())
        data, mime, image = png.getvalue(), "image/png", Image.open(png)
        if photo:
            jpeg = io.BytesIO()
            image.convert("RGB").save(jpeg, "JPEG", quality=JPEG_QUALITY)
            data, mime = jpeg.getvalue(), "image/jpeg"
        source = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        return Picture(source, alt, *image.size)


def log_scale(axis: Any, limits: tuple[float, float]) -> None:
    """A log y axis with explicit limits (autoscaling overflows on a diverged loss), labelled on
    the decades, and at 1, 2 and 5 when it spans under two (else a short range has no label)."""
    axis.set_yscale("log")
    axis.set_ylim(*limits)
    if math.log10(limits[1] / limits[0]) < 2:
        axis.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.yaxis.set_minor_formatter(NullFormatter())


def whiskers(axis: Any, x: np.ndarray, frame: pd.DataFrame, prefix: str, color: str,
             factor: float = 1.0, **style: Any) -> np.ndarray:
    """Whiskers from `<prefix>_mean` to `_low`, `_high` where known (times `factor`); the means."""
    columns = [f"{prefix}_{k}" for k in ("mean", "low", "high")]
    mean, low, high = factor * frame[columns].to_numpy(dtype=float).T
    shown = np.isfinite(low) & np.isfinite(high) & np.isfinite(mean)
    if shown.any():
        axis.errorbar(x[shown], mean[shown], yerr=[mean[shown] - low[shown],
                                                   high[shown] - mean[shown]],
                      fmt="none", ecolor=color, zorder=3, **style)
    return mean


def accuracy_chart(per_model: pd.DataFrame, runs: pd.DataFrame, winner: str | None) -> Figure:
    """Train and val accuracy per model: means with 95% whiskers, each seed, the book's figures.
    Dots, not bars: the axis is cut near chance (0.5), and a bar's length would mean nothing."""
    models = list(per_model.index)
    fig = Figure(figsize=(max(6.0, 1.0 * len(models) + 2), 4.0), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(models))
    seed_x = runs["model"].map({m: i for i, m in enumerate(models)}).to_numpy(dtype=float)
    for offset, split, color, book_marker, book_size in ((-0.17, "train", TRAIN_COLOR, "D", 36),
                                                         (0.17, "val", VAL_COLOR, "*", 70)):
        means = whiskers(ax, x + offset, per_model, split, color, capsize=4, lw=1.4)
        ax.scatter(x + offset, means, s=45, color=color, zorder=4,
                   label=f"{split} accuracy (ours, mean)")
        ax.scatter(seed_x + offset + 0.08, runs[f"{split}_acc"].to_numpy(dtype=float), s=10,
                   color="#222", zorder=4, linewidths=0)
        ax.scatter(x + offset, per_model[f"book_{split}"].to_numpy(dtype=float),
                   marker=book_marker, s=book_size, facecolors="none", edgecolors="black",
                   linewidths=1.3, zorder=5, label=f"book's {split} figure")
    scores = runs[["train_acc", "val_acc"]].to_numpy(dtype=float)
    lowest = float(np.nanmin(scores)) if np.isfinite(scores).any() else 0.5
    bottom = min(0.45, math.floor((lowest - 0.05) * 20) / 20)
    ax.axhline(0.5, color="#888", ls=":", lw=1, zorder=1)
    rotate = len(models) > 6
    ax.set_xticks(x, [f"★ {m}" if m == winner else m for m in models],
                  rotation=30 if rotate else 0, ha="right" if rotate else "center")
    if winner is not None:
        ax.get_xticklabels()[models.index(winner)].set(fontweight="bold", color=VAL_COLOR)
    ax.set(ylim=(bottom, 1.02), ylabel=f"accuracy (axis from {bottom:.2f}; dotted: chance)")
    ax.grid(axis="x", visible=False)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], marker="o", ls="", color="#222", ms=3, label="each seed"),
                Line2D([], [], color="#333", lw=1.4, label=(
                    "95% interval of the mean over seeds" if per_model["n_seeds"].max() > 1
                    else "95% interval (validation images only)"))]
    fig.legend(handles=handles, loc="outside upper center", ncols=3, frameon=False)
    return fig


def panel_grid(parent: Any, n: int, ncols: int, subfigures: bool = False, **kw: Any) -> np.ndarray:
    """The axes (or subfigures) of a grid for `n` panels, the grid's spare cells hidden."""
    shape = (math.ceil(n / ncols), ncols)
    cells = np.atleast_1d(parent.subfigures(*shape, **kw) if subfigures
                          else parent.subplots(*shape, **kw)).ravel()
    for cell in cells[n:]:
        cell.set_visible(False)
    return cells[:n]


def training_curves(curves: pd.DataFrame, models: list[str]) -> Figure:
    """One panel pair (accuracy over loss) per model, on shared axes; the other models'
    validation accuracy in grey reads each against the zoo without ten colours on one plot."""
    ncols = min(5, len(models))
    nrows = math.ceil(len(models) / ncols)
    fig = Figure(figsize=(2.5 * ncols + 0.6, 3.3 * nrows + 0.5), layout="constrained")
    stats = curves.groupby(["model", "epoch"])[["train_acc", "val_acc", "train_loss"]].agg(
        ["mean", "min", "max"])
    acc_low = min(0.5, float(np.nanmin(curves[["train_acc", "val_acc"]].to_numpy())))
    loss = curves["train_loss"].to_numpy(dtype=float)
    loss = loss[np.isfinite(loss) & (loss > 0)]
    loss_range = (loss.min() * 0.8, loss.max() * 1.25) if loss.size else (1e-3, 1.0)
    subfigs = panel_grid(fig, len(models), ncols, subfigures=True, wspace=0.02, hspace=0.02)
    for subfig, model in zip(subfigs, models, strict=True):
        ax_acc, ax_loss = subfig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
        for other in (m for m in models if m != model):
            ax_acc.plot(stats.loc[other].index, stats.loc[other][("val_acc", "mean")],
                        color="#c8c8c8", lw=0.8, zorder=1)
        mine = stats.loc[model]
        for axis, column, color, style_ in ((ax_acc, "train_acc", TRAIN_COLOR, "--"),
                                            (ax_acc, "val_acc", VAL_COLOR, "-"),
                                            (ax_loss, "train_loss", LOSS_COLOR, "-")):
            axis.plot(mine.index, mine[(column, "mean")], color=color, ls=style_, lw=1.6, zorder=3)
            axis.fill_between(mine.index, mine[(column, "min")], mine[(column, "max")],
                              color=color, alpha=0.2, lw=0, zorder=2)
        ax_acc.set_title(model, fontweight="bold")
        ax_acc.set_ylim(acc_low, 1.01)
        log_scale(ax_loss, loss_range)
        ax_loss.set_xlabel("epoch")
        ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles = [Line2D([], [], color=TRAIN_COLOR, ls="--", label="train accuracy"),
               Line2D([], [], color=VAL_COLOR, label="validation accuracy"),
               Line2D([], [], color=LOSS_COLOR, label="training loss (log scale, lower panel)"),
               Line2D([], [], color="#c8c8c8", label="other models' validation accuracy")]
    if curves.groupby("model")["seed"].nunique().max() > 1:
        handles.append(Patch(color="#999", alpha=0.4, label="min–max over seeds"))
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles), frameon=False)
    return fig


def cost_chart(per_model: pd.DataFrame, rules: pd.DataFrame) -> Figure:
    """Bars: multiply-accumulates per image and parameters per model; total runtime per rule."""
    names = list(per_model.index)[::-1]
    rules = rules.sort_values("total_seconds")
    bars = ([(names, per_model.loc[names, "macs"].astype(float), TRAIN_COLOR,
              "multiply-accumulates per image (log scale)", True),
             (names, per_model.loc[names, "n_params"], VAL_COLOR, "parameters (log scale)", True)]
            if not per_model.empty else [])
    if not rules.empty:
        bars.append((rules.index, rules["total_seconds"], LOSS_COLOR,
                     "runtime per rule, all jobs (s)", False))
    height = max(2.5, 0.3 * max(len(per_model), len(rules)) + 1.2)
    fig = Figure(figsize=(3.9 * len(bars) + 0.4, height), layout="constrained")
    for axis, (labels, values, color, title, log) in zip(
            np.atleast_1d(fig.subplots(1, len(bars))), bars, strict=True):
        axis.barh(labels, values, color=color)
        axis.set(title=title, xscale="log" if log else "linear")
        axis.grid(axis="y", visible=False)
    if not per_model.empty:
        fig.axes[1].tick_params(labelleft=False)
    return fig


def thermometer_chart(experiments: list[dict[str, Any]]) -> Figure:
    """Left: the data and the converged fits. Right: each fit's loss (log scale), diverged red."""
    fig = Figure(figsize=(12, 5.2), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1, 1.5], wspace=0.03)
    ax = left.subplots()
    ax.scatter(experiments[0]["t_u"], experiments[0]["t_c"], color="black", zorder=5,
               label="measurements")
    colors = matplotlib.colormaps["tab10"]
    for i, exp in enumerate(experiments):
        curve = exp.get("curve") or {}
        if exp["diverged"] or not curve.get("x"):
            ax.plot([], [], color=DIVERGED_COLOR, ls=":", label=f"{exp['experiment']} (diverged)")
            continue
        ax.plot(curve["x"], curve["y"], color=colors(i % 10), lw=1.3, label=exp["experiment"])
    ax.set(xlabel="t_u (unknown units)", ylabel="t_c (°C)", title="measurements and fitted models")
    ax.legend(frameon=False)
    grid = panel_grid(right, len(experiments), min(3, len(experiments)))
    for axis, exp in zip(grid, experiments, strict=True):
        diverged = bool(exp["diverged"])
        series = [("train", exp.get("train_loss")), ("val", exp.get("val_loss"))]
        if not any(values for _, values in series):
            series = [("loss", exp["loss"])]
        for label, values in series:
            values = np.minimum(finite_series(values), LOSS_CEILING * 10)
            color = DIVERGED_COLOR if diverged else VAL_COLOR if label == "val" else TRAIN_COLOR
            axis.plot(np.arange(1, len(values) + 1), values, lw=1.2, label=label, color=color,
                      ls="--" if label == "val" else "-")
            if diverged and np.isfinite(values).any():
                last = np.flatnonzero(np.isfinite(values))[-1]
                axis.plot(last + 1, values[last], "x", color=DIVERGED_COLOR, ms=8, mew=2)
        plotted = np.concatenate([finite_series(v) for _, v in series])
        if np.isfinite(plotted).any():
            log_scale(axis, (np.nanmin(plotted) / 1.5, min(np.nanmax(plotted) * 1.5, LOSS_CEILING)))
        axis.set_title(exp["experiment"] + (" — DIVERGED" if diverged else ""), fontsize=9,
                       color=DIVERGED_COLOR if diverged else "black",
                       fontweight="bold" if diverged else "normal")
        if len(series) > 1:
            axis.legend(frameon=False)
    right.supxlabel("epoch")
    right.supylabel("loss (log scale)")
    return fig


SERIES_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")
SWEEP_PANELS = {"train_acc": "training accuracy", "val_acc": "validation accuracy",
                "gap": "train − validation gap (points)"}


def sweep_chart(result: SweepResult) -> Figure:
    """A sweep's accuracies and gap against its first setting: a line per series through the means
    with 95% t whiskers, each seed a dot, the book's point ringed, diverged runs red crosses."""
    sweep, stats = result.sweep, result.points
    fig = Figure(figsize=(11.0, 3.5), layout="constrained")
    several = len(stats) and bool((stats["kept_seeds"].map(len) > 1).any())
    book_x = (position(sweep, sweep.book[sweep.x]) if sweep.x in sweep.book and any(
        same(v, sweep.book[sweep.x]) for v in sweep.values[sweep.x]) else None)
    kept, crossed = result.frame[result.frame["kept"]], result.left_out
    series = [(SERIES_COLORS[i % len(SERIES_COLORS)] if sweep.series_setting else "#333",
               in_series(stats, value), in_series(kept, value))
              for i, value in enumerate(sweep.series())]
    for axis, curve in zip(fig.subplots(1, 3), CURVES, strict=True):
        factor = 100.0 if curve == "gap" else 1.0
        for color, rows, runs in series:
            x = np.array([position(sweep, v) for v in rows["x"]], dtype=float)
            mean = factor * rows[f"{curve}_mean"].to_numpy(dtype=float)
            shown = np.isfinite(mean)
            axis.plot(x[shown], mean[shown], color=color, marker="o", ms=3.5, lw=1.4, zorder=3)
            whiskers(axis, x, rows, curve, color, factor, capsize=2.5, lw=1)
            axis.scatter([position(sweep, v) for v in runs["x"]],
                         runs[curve].to_numpy(dtype=float) * factor, s=7, color=color,
                         alpha=0.6, linewidths=0, zorder=2)
            book = shown & rows["book"].to_numpy(dtype=bool)
            axis.scatter(x[book], mean[book], s=110, facecolors="none", edgecolors="black",
                         linewidths=1.4, zorder=4)
        if book_x is not None:
            axis.axvline(book_x, color="#555", ls="--", lw=1, zorder=1)
        if len(crossed):
            axis.scatter([position(sweep, v) for v in crossed["x"]], np.full(len(crossed), 0.03),
                         marker="x", s=30, color=DIVERGED_COLOR, linewidths=1.5, zorder=5,
                         transform=axis.get_xaxis_transform(), clip_on=False)
        bottom, top = axis.get_ylim()
        if curve == "gap" and bottom <= 0 <= top:  # no gap: drawn where it is in view
            axis.axhline(0, color="#888", ls=":", lw=1, zorder=1)
        sweep_axis(axis, sweep)
        axis.set_title(SWEEP_PANELS[curve])
    handles = [Line2D([], [], color=color, marker="o", ms=3.5,
                      label=f"{sweep.series_setting} = {value_text(v)}" if sweep.series_setting
                      else "mean over seeds")
               for (color, _, _), v in zip(series, sweep.series(), strict=True)]
    keys = [(True, dict(marker="o", ls="", color="#666", ms=3, alpha=0.6, label="each seed")),
            (several, dict(color="#666", lw=1, label="95% interval over seeds")),
            (book_x is not None, dict(color="#555", ls="--", lw=1, marker="o", ms=9,
                                      markerfacecolor="none", markeredgecolor="black",
                                      label=f"{sweep.base}'s own setting (the book's point)")),
            (len(crossed), dict(marker="x", ls="", color=DIVERGED_COLOR, ms=5,
                                label="diverged run (left out)"))]
    handles += [Line2D([], [], **style_) for shown, style_ in keys if shown]
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles), frameon=False)
    return fig


def sweep_axis(axis: Any, sweep: Sweep) -> None:
    """A sweep panel's x axis: log (symlog when 0 is a value), linear, or the values' positions
    when they are not numbers; ticked at the configured values."""
    scale, values = sweep.scale(), sweep.values[sweep.x]
    ticks = np.array([position(sweep, v) for v in values], dtype=float)
    words = ""
    if scale is not None and scale.log:
        base, words = 2 if scale.kind == "log2" else 10, " (log scale)"
        if scale.zero_left_out:
            linear = linear_up_to(sweep)
            axis.set_xscale("symlog", base=base, linthresh=float(linear))
            # symlog is symmetric: no room for negative values nobody swept
            axis.set_xlim(-0.25 * float(linear), float(ticks.max()) * 1.4)
            words = f" (log scale; linear up to {value_text(linear)})"
        else:
            axis.set_xscale("log", base=base)
    axis.set_xticks(ticks, [value_text(v) for v in values])
    axis.xaxis.set_minor_locator(NullLocator())
    axis.grid(axis="x", visible=False)
    axis.set_xlabel(sweep.x + words)
