"""One report section per ingested dataset: a picture where looking beats reading, the stats.
Each view reads only the tensors it needs; templates/datasets/<name>.html shows what it returns."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from dlwpt.io import DataError, error_text, load_tensors
from dlwpt.report.figures import TRAIN_COLOR, VAL_COLOR, FigureSink, Picture
from dlwpt.report.formats import number, plain, shape
from dlwpt.results.reading import read_checked_json, require_keys

DATASET_KEYS = ("dataset", "tensors")
LUNG_WINDOW = (-600.0, 1500.0)  # level, width in HU
WEATHER = {1: "clear, few clouds", 2: "mist, cloudy", 3: "light rain/snow", 4: "heavy rain/snow"}
BIKES_WEATHER_COLUMN, BIKES_COUNT_COLUMN = 9, 16


@dataclass
class DatasetInput:
    """What a dataset view may use; `arrays` and `extra` check presence and name the file."""

    name: str
    pt: Path
    json: Path
    summary: dict[str, Any]
    options: dict[str, Any]  # the dataset's `ingest` settings
    sink: FigureSink

    def arrays(self, *keys: str, raw: tuple[str, ...] = ()) -> list[Any]:
        """The tensors `keys` as numpy arrays (float32 unless uint8 pixels), then `raw` as is."""
        try:
            tensors = load_tensors(self.pt)
        except Exception as e:  # torch raises many types (pickle, zip, runtime) for a bad file
            raise DataError(self.pt, f"cannot load tensors ({error_text(e)})") from e
        if not isinstance(tensors, dict):
            raise DataError(self.pt, f"expected a dict of tensors, got {type(tensors).__name__}")
        require_keys(tensors, keys + raw, self.pt)
        if absent := [k for k in keys if not isinstance(tensors[k], torch.Tensor)]:
            raise DataError(self.pt, f"missing tensor {absent[0]!r}")
        return [tensors[k].numpy() if tensors[k].dtype == torch.uint8
                else tensors[k].to(torch.float32).numpy() for k in keys] + [tensors[k] for k in raw]

    def extra(self, *keys: str) -> list[Any]:
        require_keys(self.summary, keys, self.json)
        return [self.summary[k] for k in keys]

    def figure(self, fig: Figure | Image.Image, alt: str, *, photo: bool = False) -> Picture:
        return self.sink.figure(fig, f"data_{self.name}", alt, photo=photo)


def thumbnail(chw: np.ndarray, max_side: int) -> Image.Image:
    """A C x H x W uint8 image as a PIL image no larger than `max_side` pixels."""
    image = Image.fromarray(np.ascontiguousarray(chw.transpose(1, 2, 0)))
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def channel_stats(mean: np.ndarray, std: np.ndarray) -> list[dict[str, str]]:
    """Per-channel mean and std of an RGB normalization, formatted."""
    return [{"channel": name, "mean": number(float(mean[i])), "std": number(float(std[i]))}
            for i, name in enumerate(("red", "green", "blue"))]


def image_dog(data: DatasetInput) -> dict[str, Any]:
    (image,) = data.arrays("image")
    return {"shape": shape(image.shape),
            "picture": data.figure(thumbnail(image, 480), "the dog photo, downscaled", photo=True)}


def image_cats(data: DatasetInput) -> dict[str, Any]:
    raw, mean, std = data.arrays("raw", "mean", "std")
    thumbs = [np.asarray(thumbnail(img, 192)) for img in raw]  # one size: the batch's
    gap = np.full((thumbs[0].shape[0], 8, 3), 255, dtype=np.uint8)
    strip = Image.fromarray(np.hstack([part for t in thumbs for part in (gap, t)][1:]))
    return {"shape": shape(raw.shape), "files": plain(data.summary.get("files") or "—"),
            "picture": data.figure(strip, "the batch of cat images, raw", photo=True),
            "channels": channel_stats(mean, std)}


def ct(data: DatasetInput) -> dict[str, Any]:
    volume, positions, spacing = data.arrays("volume", "positions", "spacing")
    volume = volume.reshape(volume.shape[-3:])
    depth, height, width = volume.shape
    d_mm, h_mm, w_mm = (float(s) for s in spacing)
    level, window = LUNG_WINDOW
    shown = {"vmin": level - window / 2, "vmax": level + window / 2, "cmap": "gray",
             "interpolation": "antialiased"}
    fig = Figure(figsize=(12, 4.4), layout="constrained", facecolor="black")
    views = [("axial", volume[depth // 2], h_mm / w_mm,
              f"slice {depth // 2} at {positions[depth // 2]:.1f} mm"),
             ("coronal", volume[:, height // 2, :], d_mm / w_mm, f"row {height // 2}"),
             ("sagittal", volume[:, :, width // 2], d_mm / h_mm, f"column {width // 2}")]
    for ax, (title, plane, aspect, where) in zip(fig.subplots(1, 3), views, strict=True):
        ax.imshow(plane, aspect=aspect, origin="lower" if title != "axial" else "upper", **shown)
        ax.set_title(f"{title} — {where}", color="white")
        ax.set_axis_off()
    fig.suptitle(f"lung window W {window:.0f} / L {level:.0f} HU", color="white", fontsize=9)
    return {"shape": shape(volume.shape), "spacing": shape(f"{s:.3g}" for s in (d_mm, h_mm, w_mm)),
            "first_mm": f"{positions[0]:.1f}", "last_mm": f"{positions[-1]:.1f}",
            "hu_min": f"{volume.min():.0f}", "hu_max": f"{volume.max():.0f}",
            "series": plain(data.summary.get("series", "—")),
            "picture": data.figure(fig, "CT slices in a lung window", photo=True)}


def wine(data: DatasetInput) -> dict[str, Any]:
    (analysis,) = data.extra("analysis")
    if absent := [k for k in ("group_means", "counts", "threshold") if k not in analysis]:
        raise DataError(data.json, f"missing key: analysis.{absent[0]}")
    means, counts, rule = analysis["group_means"], analysis["counts"], analysis["threshold"]
    groups = [g for g in ("bad", "mid", "good") if g in means]
    columns = list(means[groups[0]]) if groups else []
    table_array, names = data.arrays("table", raw=("columns",))
    names = list(names)
    if rule["column"] not in names:
        raise DataError(data.pt, f"no column {rule['column']!r} for the threshold predictor")
    values = table_array[:, names.index(rule["column"])]
    good = table_array[:, -1] > data.options.get("actual_good_above", 5)
    fig = Figure(figsize=(11, 3.6), layout="constrained")
    ax_hist, ax_counts = fig.subplots(1, 2, width_ratios=[2, 1])
    bins = np.linspace(values.min(), values.max(), 50)
    ax_hist.hist(values[~good], bins=bins, alpha=0.6, color=TRAIN_COLOR, label="actually not good")
    ax_hist.hist(values[good], bins=bins, alpha=0.6, color=VAL_COLOR, label="actually good")
    ax_hist.axvline(rule["threshold"], color="black", lw=1.5,
                    label=f"threshold {rule['threshold']:.1f}: predicted good below")
    ax_hist.set(xlabel=rule["column"], ylabel="wines")
    ax_hist.legend(frameon=False)
    bars = {"predicted good": rule["n_predicted"], "actually good": rule["n_actual"],
            "both": rule["n_matches"]}
    ax_counts.bar(list(bars), list(bars.values()), color=[TRAIN_COLOR, VAL_COLOR, "#55a868"])
    ax_counts.set_title(f"precision {rule['matches_over_predicted']:.2f}, "
                        f"recall {rule['matches_over_actual']:.2f}")
    ax_counts.grid(axis="x", visible=False)
    return {"groups": [{"group": g, "count": counts.get(g, "?")} for g in groups],
            "means": [{"column": c, **{g: number(means[g][c]) for g in groups}} for c in columns],
            "rule": {"column": rule["column"], "threshold": f"{rule['threshold']:.2f}",
                     **{k: rule[k] for k in ("n_predicted", "n_actual", "n_matches")}},
            "picture": data.figure(fig, "wine threshold predictor")}


def bikes(data: DatasetInput) -> dict[str, Any]:
    (daily,) = data.arrays("daily")
    weather = daily[:, BIKES_WEATHER_COLUMN, :].round().astype(int)
    counts = daily[:, BIKES_COUNT_COLUMN, :]
    fig = Figure(figsize=(11, 3.6), layout="constrained")
    ax_hour, ax_days = fig.subplots(1, 2, width_ratios=[1.2, 1])
    hours = np.arange(daily.shape[2])
    for situation, label in WEATHER.items():
        mask = weather == situation
        if not mask.any():
            continue
        with np.errstate(invalid="ignore"):
            mean = np.where(mask, counts, 0).sum(0) / mask.sum(0)
        ax_hour.plot(hours, mean, marker="o", ms=3,
                     label=f"{situation}: {label} ({int(mask.sum())} h)")
    ax_hour.set(xticks=range(0, 24, 3), xlabel="hour of day", ylabel="mean rentals per hour",
                title="rentals by weather situation")
    ax_hour.legend(frameon=False, fontsize=7)
    ax_days.plot(counts.sum(1), color=TRAIN_COLOR, lw=0.8)
    ax_days.set(xlabel="day", ylabel="rentals per day", title=f"{daily.shape[0]} days")
    return {"shape": shape(daily.shape), "filled_hours": data.summary.get("filled_hours", "—"),
            "picture": data.figure(fig, "bike rentals per hour of day by weather")}


def char_label(code: int) -> str:
    """A readable tick label for an ASCII code (the book maps non-ASCII characters to 0)."""
    return "␣" if code == 32 else chr(code) if 32 < code < 127 else "¤"


def text(data: DatasetInput) -> dict[str, Any]:
    line, vocab_size = data.extra("line", "vocab_size")
    (onehot,) = data.arrays("line_onehot")
    codes = onehot.argmax(1)
    used = np.unique(codes)
    fig = Figure(figsize=(11, max(2.4, 0.13 * len(used) + 1.2)), layout="constrained")
    ax = fig.subplots()
    ax.imshow(onehot[:, used].T, aspect="auto", cmap="Greys", interpolation="nearest")
    ax.set_yticks(range(len(used)), [char_label(c) for c in used], fontsize=7, family="monospace")
    ax.set_xticks(range(len(codes)), [char_label(c) for c in codes], fontsize=7, family="monospace")
    ax.set(xlabel="the line, one character per column", ylabel="character (row of the one-hot)",
           title=f"one-hot encoding of the line: {onehot.shape[0]} × {onehot.shape[1]} "
                 f"(only the {len(used)} characters used are shown; ¤ = non-ASCII, code 0)")
    ax.grid(False)
    words_shape = data.summary["tensors"].get("line_words_onehot", {}).get("shape") or []
    return {"line": line, "line_index": data.summary.get("line_index", "—"),
            "char_shape": shape(onehot.shape), "word_shape": shape(words_shape) or "—",
            "vocab_size": f"{int(vocab_size):,}",
            "n_words": f"{int(data.summary.get('n_words', 0)):,}",
            "picture": data.figure(fig, "one-hot encoding of the chosen line")}


def cifar2(data: DatasetInput) -> dict[str, Any]:
    source_classes, classes, normalization = data.extra("source_classes", "classes",
                                                        "normalization")
    samples, mean, std = data.arrays("samples", "mean", "std")
    n_classes, per_class = samples.shape[:2]
    grid = samples.transpose(0, 3, 1, 4, 2).reshape(n_classes * 32, per_class * 32, 3)
    names = (dict(enumerate(source_classes)) if isinstance(source_classes, list)  # label order
             else {int(label): name for name, label in source_classes.items()})
    fig = Figure(figsize=(0.62 * per_class + 1.4, 0.62 * n_classes + 0.3), layout="constrained")
    ax = fig.subplots()
    ax.imshow(grid, interpolation="nearest")
    ax.set_yticks(np.arange(n_classes) * 32 + 16,
                  [names.get(c, str(c)) + (" ★" if names.get(c) in classes else "")
                   for c in range(n_classes)])
    ax.set_xticks([])
    ax.grid(False)
    ax.spines[:].set_visible(False)
    return {"task": [{"name": n, "label": label} for n, label in classes.items()],
            "counts": plain(data.summary.get("counts", "—")), "normalization": normalization,
            "per_class": per_class, "n_classes": n_classes,
            "picture": data.figure(fig, "sample CIFAR-10 images per class", photo=True),
            "channels": channel_stats(mean, std)}


VIEWS: dict[str, tuple[str, Callable[[DatasetInput], dict[str, Any]]]] = {
    "image_dog": ("A photo (chapter 4.1)", image_dog),
    "image_cats": ("A batch of images (4.1)", image_cats),
    "ct": ("A CT volume (4.2)", ct),
    "wine": ("Wine quality, tabular (4.3)", wine),
    "bikes": ("Bike sharing, time series (4.4)", bikes),
    "text": ("Pride and Prejudice, text (4.5)", text),
    "cifar2": ("CIFAR-10 birds vs airplanes (7)", cifar2),
}


def sources(summary: dict[str, Any]) -> list[dict[str, str]]:
    """A dataset's raw files: name and the start of its sha256 (an image folder: fingerprint)."""
    return [{"name": Path(str(source.get("path", "?"))).name, "kind": kind,
             "value": str(source.get(kind, "?")).removeprefix("sha256:")[:12]}
            for source in summary.get("sources") or []
            for kind in ["fingerprint" if "fingerprint" in source else "sha256"]]


def dataset_views(data: dict[str, dict[str, Path]], ingest_options: dict[str, dict[str, Any]],
                  sink: FigureSink) -> list[dict[str, Any]]:
    """Datasets in the book's order; a dataset without a view still gets its stats table."""
    names = sorted(data, key=lambda n: (list(VIEWS).index(n) if n in VIEWS else len(VIEWS), n))
    views = []
    for name in names:
        json_path = Path(data[name]["json"])
        summary = read_checked_json(json_path, DATASET_KEYS)
        title, view = VIEWS.get(name, (name, None))
        dataset = DatasetInput(name, Path(data[name]["pt"]), json_path, summary,
                               ingest_options.get(name) or {}, sink)
        views.append({"name": name, "title": title, "view": view(dataset) if view else None,
                      "tensors": [{"tensor": key, "shape": shape(s.get("shape", [])) or "scalar",
                                   "dtype": s.get("dtype", "—"),
                                   **{k: number(s.get(k)) for k in ("min", "max", "mean", "std")}}
                                  for key, s in summary["tensors"].items()],
                      "sources": sources(summary)})
    return views
