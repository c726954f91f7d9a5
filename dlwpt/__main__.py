"""`python -m dlwpt runs` / `python -m dlwpt diff`: the run history (dlwpt.history) on the
command line, in the spirit of `dvc exp show` and `dvc exp diff`, with the paired verdicts and
the words of the page (dlwpt.report.verdicts)."""

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from dlwpt import history as h
from dlwpt.io import json_digest, one_line
from dlwpt.report import verdicts
from dlwpt.report.formats import acc, config_text, missing
from dlwpt.results.changes import NEW, OLD, UNSET, Changes, RunInfo, flatten
from dlwpt.runs import HISTORY_ROOT


class Parser(argparse.ArgumentParser):
    """Usage errors in one line, exit 2, like every other bad input here (nothing to compare:
    one line, exit 0)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
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
                                           "(default: the latest before B whose training differs)")
    diff.add_argument("b", nargs="?", help="the new entry (default: the latest)")
    for command in (runs, diff):
        form = command.add_mutually_exclusive_group()
        form.add_argument("--md", action="store_true", help="a Markdown table")
        form.add_argument("--json", action="store_true", help="JSON, for scripts")
        command.add_argument("--history", default=HISTORY_ROOT, metavar="DIR",
                             help=f"the history folder (default: {HISTORY_ROOT})")
    args = top.parse_args(argv)
    style = "json" if args.json else "md" if args.md else "text"
    try:
        if args.command == "runs":
            text = show_runs(h.snapshots(args.history), args.all, style)
        else:
            changes = diff_pair(args.history, args.a, args.b)
            text = changes if isinstance(changes, str) else show_diff(changes, style)
    except h.HistoryError as e:
        sys.stderr.write(f"error: {one_line(e)}\n")
        return 2
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


# --- runs -----------------------------------------------------------------------------------

def entry_settings(snapshot: h.Snapshot) -> dict[str, Any]:
    """An entry's settings as columns (`train.subsample`, `net.lr`), seeds, data and code."""
    columns: dict[str, Any] = {
        key if key.startswith("train.") else f"{model}.{key}": value
        for model, runs in snapshot.models.items() for key, value in flatten(runs.settings).items()}
    columns["seeds"] = " ".join(map(str, sorted({s for runs in snapshot.models.values()
                                                 for s in runs.seeds})))
    columns["data"] = snapshot.data[:8] if snapshot.data else None
    columns["code"] = json_digest(snapshot.code)[:8]
    return columns


def show_runs(snapshots: list[h.Snapshot], every: bool, style: str) -> str:
    settings = [entry_settings(s) for s in snapshots]
    keys = list(dict.fromkeys(k for columns in settings for k in columns))
    if not every:
        keys = [k for k in keys if len({json.dumps(columns.get(k, UNSET), default=repr)
                                         for columns in settings}) > 1]
    view = {"settings": keys, "models": list(dict.fromkeys(m for s in snapshots for m in s.models)),
            "entries": [{**asdict(RunInfo.of(s)),
                         "settings": {k: columns[k] for k in keys if k in columns},
                         "val_acc": {m: s.mean_val_acc(m) for m in s.models},
                         "diverged": [m for m in s.models if s.diverged(m)]}
                        for s, columns in zip(snapshots, settings, strict=True)]}
    if style == "json":
        return json.dumps(view, indent=2)
    headers = ["id", "date", "commit", "experiment", *view["settings"],
               *(f"acc:{m}" for m in view["models"])]
    rows = [[entry["id"], verdicts.date_text(entry["time"]),
             verdicts.commit_text(entry["git_commit"], entry["dirty"]), entry["experiment"] or "",
             *(config_text(entry["settings"][k]) if k in entry["settings"] else "—"
               for k in view["settings"]),
             *("—" if m not in entry["val_acc"] else
               acc(entry["val_acc"][m]) + (" diverged" if m in entry["diverged"] else "")
               for m in view["models"])]
            for entry in view["entries"]]
    note = ("" if every or view["settings"] or len(view["entries"]) < 2 else
            "\nno setting differs between the entries (--all shows them)")
    return table(headers, rows, style) + note


# --- diff -----------------------------------------------------------------------------------

def diff_pair(history_dir: str, a: str | None, b: str | None) -> Changes | str:
    """A against B (default: the latest); neither: what the page shows, the latest against the
    entry before it whose training differs. A line where there is nothing to compare."""
    if a is None:
        new = h.load(history_dir)
        old = h.previous(history_dir, new)
        if old is None:
            return (f"nothing to compare: no entry before {new.id} was trained differently "
                    "(the first run, or the same training published again)")
    else:
        old, new = h.load(history_dir, a), h.load(history_dir, b)
        if old.id == new.id:
            return f"nothing to compare: {a} and {b or 'the latest'} are one entry, {new.id}"
    return h.compare(old, new)


def show_diff(changes: Changes, style: str) -> str:
    code = verdicts.code_summary(changes.code)
    if style == "json":
        models = [{
            "model": m.model, "status": m.status,
            "change": verdicts.change_words(m, seeds=True), "problem": m.problem,
            "settings": [{k: v for k, v in vars(s).items() if v is not UNSET} for s in m.settings],
            "code_changed": m.code, "data_changed": m.data,
            "old_seeds": list(m.old_seeds), "new_seeds": list(m.new_seeds),
            "old_acc": m.old_acc, "new_acc": m.new_acc, "verdict": m.verdict,
            "verdict_words": verdicts.verdict_label(m.verdict, NEW, OLD) if m.verdict else None,
            "difference_words": None if m.comparison is None or missing(m.comparison.get("diff"))
            else verdicts.difference_words(m.comparison),
            "comparison": None if m.comparison is None else
            {k: plain_value(v) for k, v in m.comparison.items()}} for m in changes.models]
        return json.dumps({"old": None if changes.old is None else asdict(changes.old),
                           "new": asdict(changes.new), "first": changes.first,
                           "data_changed": changes.data_changed,
                           "code_changed": [c.path for c in changes.code],
                           "code_summary": code, "models": models}, indent=2)
    lines = [f"{OLD}: {verdicts.run_words(changes.old)}",
             f"{NEW}: {verdicts.run_words(changes.new)}",
             "training code: " + (f"code of {', '.join(code)} changed" if code else "unchanged"),
             "data: " + ("changed (results/data/cifar2.pt): no paired test"
                         if changes.data_changed else "unchanged")]
    headers = ["model", "change", "old acc", "new acc", "new − old"]
    rows = [[m.model, verdicts.change_words(m, seeds=True), acc(m.old_acc), acc(m.new_acc),
             verdicts.change_verdict_words(m)] for m in changes.models]
    lines = [f"- {markdown(line)}" if style == "md" else one_line(line) for line in lines]
    return "\n".join(lines) + "\n\n" + table(headers, rows, style)


# --- formatting -----------------------------------------------------------------------------

def plain_value(value: Any) -> Any:
    """JSON-ready: NaN as null, numpy scalars as Python ones."""
    value = value.item() if hasattr(value, "item") else value
    return None if missing(value) else value


# Text as inert Markdown on one line: no markup, link, HTML or table cell boundary.
MARKDOWN_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\": "\\\\", "|": "\\|",
                                  "[": "\\[", "]": "\\]", "`": "\\`", "*": "\\*", "_": "\\_"})


def markdown(text: object) -> str:
    return one_line(text).translate(MARKDOWN_ESCAPES)


def table(headers: list[str], rows: list[list[str]], style: str) -> str:
    """Plain aligned columns (two spaces apart, each cell one line), or a Markdown table."""
    if style == "md":
        return "\n".join("| " + " | ".join(map(markdown, row)) + " |"
                         for row in [headers, ["---"] * len(headers), *rows])
    cells = [[one_line(c) for c in r] for r in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in cells)


if __name__ == "__main__":
    sys.exit(main())
