"""`python -m dlwpt runs` / `python -m dlwpt diff`: the run history (dlwpt.history) on the
command line, in the spirit of `dvc exp show` and `dvc exp diff`, with the paired verdicts of the
report's comparisons layer. `python -m dlwpt seal`: seal the training summaries written before
summaries were sealed (dlwpt.io.summary_seal), where their runs are as trained.

Bad input (no history, an unknown id, a corrupt or edited entry, another layout, a summary that
cannot be sealed) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlwpt import history as h
from dlwpt.io import BROKEN, SEALED, file_digest, read_json, seal_state, sealed, write_json
from dlwpt.report.formats import missing
from dlwpt.rerun import rebuild_hint

DEFAULT_HISTORY = "results/history"
DEFAULT_TRAIN = "results/train"


class Parser(argparse.ArgumentParser):
    """Usage errors in one line, exit 2, like every other bad input here."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


def parser() -> argparse.ArgumentParser:
    top = Parser(prog="python -m dlwpt", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    runs = commands.add_parser(
        "runs", help="one row per history entry: id, date, commit, experiment, the settings "
                     "that differ between entries, each model's mean validation accuracy")
    runs.add_argument("--all", action="store_true",
                      help="every setting, not only those that differ between entries")
    diff = commands.add_parser(
        "diff", help="what changed from entry A to entry B (default: what the page shows), per "
                     "model, with the paired difference, its interval and verdict")
    diff.add_argument("a", nargs="?", help="the old entry: an id or its unique beginning "
                                           "(default: the latest before B whose training "
                                           "differs)")
    diff.add_argument("b", nargs="?", help="the new entry (default: the latest)")
    for command in (runs, diff):
        form = command.add_mutually_exclusive_group()
        form.add_argument("--md", action="store_true", help="a Markdown table")
        form.add_argument("--json", action="store_true", help="JSON, for scripts")
        command.add_argument("--history", default=DEFAULT_HISTORY, metavar="DIR",
                             help=f"the history folder (default: {DEFAULT_HISTORY})")
    seal = commands.add_parser(
        "seal", help="seal every summary.json under FOLDER that has no seal, where the files "
                     "whose digests it records are unchanged; print what was sealed and what "
                     "was refused")
    seal.add_argument("folder", nargs="?", default=DEFAULT_TRAIN,
                      help=f"the training results (default: {DEFAULT_TRAIN})")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "seal":
        return seal_summaries(Path(args.folder))
    try:
        if args.command == "runs":
            text = show_runs(h.snapshots(args.history), args.all, form(args))
        else:
            text = show_diff(diff_pair(args.history, args.a, args.b), form(args))
    except h.HistoryError as e:
        sys.stderr.write(f"error: {h.one_line(e)}\n")
        return 2
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def form(args: argparse.Namespace) -> str:
    return "json" if args.json else "md" if args.md else "text"


# --- runs -----------------------------------------------------------------------------------

def entry_settings(snapshot: h.Snapshot) -> dict[str, Any]:
    """An entry's settings as columns: the training settings every model shares
    (`train.subsample`), each model's own (`net.lr`), the seeds, and short digests of the data
    and the training code."""
    columns: dict[str, Any] = {}
    for model, runs in snapshot.models.items():
        for key, value in h.flatten(runs.settings).items():
            columns[key if key.startswith("train.") else f"{model}.{key}"] = value
    columns["seeds"] = " ".join(map(str, sorted({s for runs in snapshot.models.values()
                                                 for s in runs.seeds})))
    columns["data"] = snapshot.data[:8] if snapshot.data else None
    columns["code"] = h.digest_of(snapshot.code)[:8]
    return columns


def runs_view(snapshots: list[h.Snapshot], every: bool) -> dict[str, Any]:
    settings = [entry_settings(s) for s in snapshots]
    keys = list(dict.fromkeys(k for columns in settings for k in columns))
    if not every:
        keys = [k for k in keys if len({json.dumps(columns.get(k, h.UNSET), default=repr)
                                         for columns in settings}) > 1]
    models = list(dict.fromkeys(m for s in snapshots for m in s.models))
    entries = [{"id": s.id, "time": s.time, "git_commit": s.git_commit, "dirty": s.dirty,
                "experiment": s.experiment,
                "settings": {k: columns[k] for k in keys if k in columns},
                "val_acc": {m: s.mean_val_acc(m) for m in s.models},
                "diverged": [m for m in s.models if s.diverged(m)]}
               for s, columns in zip(snapshots, settings, strict=True)]
    return {"settings": keys, "models": models, "entries": entries}


def show_runs(snapshots: list[h.Snapshot], every: bool, style: str) -> str:
    view = runs_view(snapshots, every)
    if style == "json":
        return json.dumps(view, indent=2)
    headers = ["id", "date", "commit", "experiment", *view["settings"],
               *(f"acc:{m}" for m in view["models"])]
    rows = []
    for entry in view["entries"]:
        rows.append([entry["id"], h.date_text(entry["time"]),
                     h.commit_text(entry["git_commit"], entry["dirty"]),
                     entry["experiment"] or "",
                     *(h.value_text(entry["settings"][k]) if k in entry["settings"] else "—"
                       for k in view["settings"]),
                     *("—" if m not in entry["val_acc"] else
                       acc_text(entry["val_acc"][m]) + (" diverged" if m in entry["diverged"]
                                                        else "")
                       for m in view["models"])])
    note = ("" if every or view["settings"] or len(view["entries"]) < 2 else
            "\nno setting differs between the entries (--all shows them)")
    return table(headers, rows, style) + note


# --- diff -----------------------------------------------------------------------------------

def diff_pair(history_dir: str, a: str | None, b: str | None) -> h.Changes:
    """A against B; A alone: against the latest; neither: what the page shows, the latest
    entry against the entry before it whose training differs (a republished page, a new
    label, adds an entry with the same training: the last two would show nothing changed)."""
    if a is None:
        new = h.load(history_dir)
        old = h.previous(history_dir, new)
        if old is None:
            raise h.HistoryError(Path(history_dir) / "runs", f"no earlier entry trained "
                                 f"differently from {new.id}: nothing to compare with yet")
    else:
        old, new = h.load(history_dir, a), h.load(history_dir, b)
    return h.compare(old, new)


def verdict_words(code: str) -> str:
    from dlwpt.report import verdicts

    return verdicts.verdict_label(code, h.NEW, h.OLD)


def difference_text(comparison: dict[str, Any] | None) -> str:
    from dlwpt.report import verdicts

    if comparison is None or missing(comparison.get("diff")):
        return ""
    return verdicts.difference_words(comparison)


def change_text(change: h.ModelChange) -> str:
    parts = {h.ADDED: ["added"], h.REMOVED: ["removed"], h.UNCHANGED: ["unchanged"],
             h.RETRAINED: ["retrained (same settings, code and data)"]}.get(change.status, [])
    parts += [str(s) for s in change.settings]
    parts += ["code"] * change.code + ["data"] * change.data
    if change.status not in (h.ADDED, h.REMOVED) and change.old_seeds != change.new_seeds:
        parts.append(f"seeds {' '.join(map(str, change.old_seeds))} -> "
                     f"{' '.join(map(str, change.new_seeds))}")
    return "; ".join(parts)


def diff_view(changes: h.Changes) -> dict[str, Any]:
    def info(run: h.RunInfo | None) -> dict[str, Any] | None:
        return None if run is None else dict(run.__dict__)

    models = []
    for m in changes.models:
        settings = [{"key": s.key, **({"old": s.old} if s.old is not h.UNSET else {}),
                     **({"new": s.new} if s.new is not h.UNSET else {})} for s in m.settings]
        models.append({
            "model": m.model, "status": m.status, "change": change_text(m),
            "settings": settings, "code_changed": m.code, "data_changed": m.data,
            "old_seeds": list(m.old_seeds), "new_seeds": list(m.new_seeds),
            "old_acc": m.old_acc, "new_acc": m.new_acc,
            "verdict": m.verdict,
            "verdict_words": verdict_words(m.verdict) if m.verdict else None,
            "difference_words": difference_text(m.comparison) or None,
            "comparison": None if m.comparison is None else
            {k: plain_value(v) for k, v in m.comparison.items()}})
    return {"old": info(changes.old), "new": info(changes.new), "first": changes.first,
            "data_changed": changes.data_changed,
            "code_changed": [c.path for c in changes.code],
            "code_summary": h.code_summary(changes.code), "models": models}


def show_diff(changes: h.Changes, style: str) -> str:
    view = diff_view(changes)
    if style == "json":
        return json.dumps(view, indent=2)
    lines = [f"{side}: {run_text(view[side])}" for side in (h.OLD, h.NEW)]
    code = h.code_summary(changes.code)
    lines.append("training code: " + ("unchanged" if not code else
                                      f"code of {', '.join(code)} changed"))
    lines.append("data: " + ("changed (results/data/cifar2.pt): no paired test"
                             if changes.data_changed else "unchanged"))
    headers = ["model", "change", "old acc", "new acc", "new − old", "verdict"]
    rows = [[m["model"], m["change"], acc_text(m["old_acc"]), acc_text(m["new_acc"]),
             m["difference_words"] or "", m["verdict_words"] or ""] for m in view["models"]]
    if style == "md":
        lines = [f"- {line}" for line in lines]
    return "\n".join(lines) + "\n\n" + table(headers, rows, style)


def run_text(run: dict[str, Any]) -> str:
    text = (f"{run['id']} ({h.date_text(run['time'])}, commit "
            f"{h.commit_text(run['git_commit'], run['dirty'])}")
    return text + (f", experiment {run['experiment']})" if run["experiment"] else ")")


# --- seal -----------------------------------------------------------------------------------

def unchanged_run_problem(path: Path, summary: dict[str, Any]) -> str | None:
    """Why the run of the summary at `path` is not as trained (None: it is): every file whose
    digest the summary records ("files") must still have it."""
    recorded = summary.get("files")
    if not isinstance(recorded, dict) or not recorded:
        return "records no digests of its run's files"
    for name, expected in recorded.items():
        if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
            return f"records a digest of {name!r}, not a file of its run"
        sibling = path.with_name(name)
        if not sibling.is_file():
            return f"{name} is missing"
        if "sha256:" + file_digest(sibling) != expected:
            return f"{name} changed since it was trained"
    return figures_problem(path, summary)


def figures_problem(path: Path, summary: dict[str, Any]) -> str | None:
    """A figure of the summary that its run's own files hold too and contradict: epochs
    (metrics.csv's rows) and val_acc (the last row's, and the predictions' accuracy). train_acc,
    from one eval pass after training, has no second copy: an edit of it alone cannot be told."""
    if summary.get("diverged_epoch") is not None:
        return None  # its figures are the last finite epoch's
    with open(path.with_name("metrics.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    if summary.get("epochs") != len(rows):
        return f"epochs {summary.get('epochs')} but metrics.csv has {len(rows)} epochs"
    val_acc = summary.get("val_acc")
    with open(path.with_name("val_predictions.csv"), newline="") as f:
        hits = [row["label"] == row["predicted"] for row in csv.DictReader(f)]
    if not (isinstance(val_acc, float) and math.isclose(val_acc, float(rows[-1]["val_acc"]),
                                                        abs_tol=1e-9)
            and math.isclose(val_acc, sum(hits) / len(hits), abs_tol=1e-9)):
        return f"val_acc {val_acc} differs from metrics.csv's last epoch or the predictions'"
    return None


def seal_summaries(folder: Path) -> int:
    """Seal every unsealed summary.json under `folder` whose run files match their recorded
    digests; leave a sealed one alone; refuse the rest (one line each on stderr, exit 2)."""
    paths = sorted(folder.rglob("summary.json")) if folder.is_dir() else []
    if not paths:
        sys.stderr.write(f"error: {folder}: no summary.json here (give the training results "
                         f"folder, {DEFAULT_TRAIN} by default)\n")
        return 2

    def target(path: Path) -> Path:  # as --forcerun reads it: relative to the work dir
        resolved = path.resolve()
        train = next((p for p in resolved.parents
                      if p.name == "train" and p.parent.name == "results"), None)
        return resolved.relative_to(train.parent.parent) if train else path

    counts = {"sealed": 0, "already sealed": 0, "refused": 0}
    for path in paths:
        try:
            summary = read_json(path)
        except (OSError, ValueError) as e:
            summary, problem = None, f"cannot read JSON ({h.one_line(e)})"
        else:
            problem = None if isinstance(summary, dict) else "not a training summary"
        state = seal_state(summary) if problem is None else None
        if state == SEALED:
            counts["already sealed"] += 1
            continue
        if state == BROKEN:
            problem = "changed after training (its seal does not match)"
        elif problem is None:
            problem = unchanged_run_problem(path, summary)
        if problem:
            counts["refused"] += 1
            sys.stderr.write(f"refused {path}: {problem}; {rebuild_hint(target(path), None)}\n")
            continue
        try:
            write_json(path, sealed(summary))
        except OSError as e:
            counts["refused"] += 1
            sys.stderr.write(f"refused {path}: cannot write ({e.strerror or e})\n")
            continue
        counts["sealed"] += 1
        sys.stdout.write(f"sealed {path}\n")
    sys.stdout.write(", ".join(f"{n} {what}" for what, n in counts.items()) + "\n")
    return 2 if counts["refused"] else 0


# --- formatting -----------------------------------------------------------------------------

def plain_value(value: Any) -> Any:
    """JSON-ready: NaN as null, numpy scalars as Python ones."""
    if hasattr(value, "item"):
        value = value.item()
    return None if missing(value) else value


def acc_text(value: float | None) -> str:
    return "—" if missing(value) else f"{value:.3f}"


def table(headers: list[str], rows: list[list[str]], style: str) -> str:
    """Plain aligned columns (two spaces apart), or a Markdown table."""
    if style == "md":
        def cell(text: str) -> str:
            return str(text).replace("|", "\\|")
        lines = ["| " + " | ".join(map(cell, headers)) + " |",
                 "| " + " | ".join("---" for _ in headers) + " |"]
        lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in [headers, *rows])


if __name__ == "__main__":
    sys.exit(main())
