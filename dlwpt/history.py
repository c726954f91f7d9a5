"""Experiments over time: every published run kept, and what each change did, measured.

The store, `results/history/` (no rule declares it, so Snakemake never deletes it):

- `objects/<first 2 hex>/<sha256>`: content-addressed copies of the files a run is made of
  (each (model, seed)'s summary.json, metrics.csv and val_predictions.csv, the published
  metrics.csv and comparisons.csv); a file identical to one already kept is stored once, so an
  entry that retrains one model adds that model's files and the published tables.
- `runs/<id>.json`: one entry per published run (`record`), written atomically, never changed:
  `layout`, `id` (UTC time and a short content hash: entries sort by time), `time`,
  `git_commit`, `dirty`, `experiment` (config `experiment:`), `config` (as run), `data` (sha256
  of results/data/cifar2.pt, which training reads), `code` (the training rule's code files:
  path under the checkout -> the digest the workflow compares, code_inputs.source_digest),
  `models` ({model: {settings, settings_digest, seeds:
  {seed: {summary, metrics, predictions}: blob digests}}}), `published` ({metrics,
  comparisons}: blob digests) and `entry_digest` (sha256 over the rest: a hand-edited entry is
  refused). Blobs are checked against their names when read.

A `Snapshot` is one run's content in memory, built from an entry or from the current run files
(what the report reads); `compare(old, new)` says per model what changed (settings, code, data,
seeds) and, for a model that was retrained, tests new against old on the seeds both ran with the
comparisons layer (paired, image by image and seed by seed; one Holm family, "history"). Rows
are typed; the words are the renderer's (dlwpt.report.verdicts, `python -m dlwpt diff`).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlwpt.code_inputs import source_digest
from dlwpt.io import DataError, copy_atomic, file_digest, read_json, write_json
from dlwpt.runs import job_settings, model_config

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

LAYOUT = 1
FAMILY = "history"  # the comparisons family of compare()'s tests (Holm over its tested rows)
NEW, OLD = "new", "old"  # the two "models" of each test: diff = new - old
RUN_FILES = ("summary", "metrics", "predictions")
PUBLISHED = ("metrics", "comparisons")
# Model status in compare()
ADDED, REMOVED = "added", "removed"  # in the new run only / in the old run only
CHANGED = "changed"  # its settings, the training code or the data changed
RETRAINED = "retrained"  # same settings, code and data, but its run files differ
UNCHANGED = "unchanged"  # the same run files on the seeds both have (seeds may differ)
# Up to this many changed code files are named one by one; more are grouped by folder.
CODE_FILES_SHOWN = 3


class HistoryError(DataError):
    """A history that cannot be read: one line naming the file (entry or blob) and the
    problem. The pipeline never fails on one: recording turns it into a warning."""


def digest_of(obj: Any) -> str:
    """sha256 of a JSON value in canonical form (sorted keys, no spaces)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys: {"train": {"subsample": 1}} -> {"train.subsample": 1}."""
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def model_settings(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    """What trains one model: its config entry over train.defaults (the train_model job's
    `hyperparameters`), and under "train" the job's other settings (TRAIN_KEYS)."""
    return {**model_config(config, model), "train": job_settings(config)}


def value_text(value: Any) -> str:
    """A setting's value as the config would write it: 0.005, [512, 128], true, null."""
    return value if isinstance(value, str) else json.dumps(value)


# --- the content of a run -------------------------------------------------------------------

@dataclass(frozen=True)
class RunFiles:
    """One (model, seed): its three files (paths to read) and their sha256."""

    paths: dict[str, Path]  # RUN_FILES -> path (the run's own files, or blobs)
    digests: dict[str, str]  # RUN_FILES -> sha256 hex


@dataclass(frozen=True)
class ModelRuns:
    settings: dict[str, Any]
    settings_digest: str
    seeds: dict[int, RunFiles]


@dataclass
class Snapshot:
    """One run's content: config, settings, code, data, and per (model, seed) its files.

    From an entry (`load`, `snapshots`: `id`, `time`, `git_commit`, `dirty` and `published`
    are set, the files are blobs, checked when read) or from the current files
    (`from_files`: the run the report is about to publish)."""

    config: dict[str, Any]
    data: str | None
    code: dict[str, str]
    models: dict[str, ModelRuns]
    id: str | None = None
    time: str | None = None
    git_commit: str | None = None
    dirty: bool | None = None
    published: dict[str, str] = field(default_factory=dict)
    source: Path | None = None  # the entry's file; None for current files
    _summaries: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def experiment(self) -> str | None:
        return self.config.get("experiment")

    @classmethod
    def from_files(cls, *, config: Mapping[str, Any], runs: Iterable[Mapping[str, Any]],
                   data_pt: str | os.PathLike | None, code_files: Iterable[str | os.PathLike],
                   repo: str | os.PathLike) -> Snapshot:
        """The current run: `config` as run, `runs` the report's run entries ({model, seed,
        summary, metrics, predictions}), `data_pt` results/data/cifar2.pt (None without
        cifar2), `code_files` the train_model rule's code files (recorded relative to `repo`,
        the checkout: the same keys from any working directory)."""
        models: dict[str, ModelRuns] = {}
        for run in runs:
            model, seed = run["model"], int(run["seed"])
            if model not in models:
                settings = model_settings(config, model)
                models[model] = ModelRuns(settings, digest_of(settings), {})
            paths = {name: Path(run[name]) for name in RUN_FILES}
            models[model].seeds[seed] = RunFiles(
                paths, {name: file_digest(path) for name, path in paths.items()})
        repo = Path(repo).resolve()
        code = {}
        for path in code_files:
            resolved = Path(path).resolve()
            key = (resolved.relative_to(repo).as_posix() if resolved.is_relative_to(repo)
                   else Path(path).as_posix())
            # as the workflow compares code (its params): a docstring-only edit is no change
            code[key] = source_digest(resolved)
        return cls(config=dict(config), data=file_digest(data_pt) if data_pt else None,
                   code=dict(sorted(code.items())), models=models)

    def content(self) -> dict[str, Any]:
        """The entry's content (what makes two runs the same), blobs by digest."""
        return {
            "experiment": self.experiment,
            "config": self.config,
            "data": self.data,
            "code": self.code,
            "models": {model: {"settings": runs.settings,
                               "settings_digest": runs.settings_digest,
                               "seeds": {str(seed): dict(files.digests)
                                         for seed, files in sorted(runs.seeds.items())}}
                       for model, runs in self.models.items()},
            "published": dict(self.published),
        }

    def same_training(self, other: Snapshot) -> bool:
        """Same data, training code, and per model the same settings and run files."""
        return (self.data == other.data and self.code == other.code
                and self.content()["models"] == other.content()["models"])

    def summary(self, model: str, seed: int) -> dict[str, Any]:
        key = (model, seed)
        if key not in self._summaries:
            path = self._read(model, seed, "summary")
            try:
                summary = read_json(path)
            except (OSError, ValueError) as e:
                raise self._error(path, f"cannot read JSON ({e})") from e
            if not isinstance(summary, dict):
                raise self._error(path, "not a summary (a JSON object)")
            self._summaries[key] = summary
        return self._summaries[key]

    def val_acc(self, model: str, seed: int) -> float | None:
        """The run's validation accuracy (None: it diverged in its first epoch)."""
        value = self.summary(model, seed).get("val_acc")
        return None if value is None or not math.isfinite(value) else float(value)

    def diverged(self, model: str) -> bool:
        return any(self.summary(model, s).get("diverged_epoch") is not None
                   for s in self.models[model].seeds)

    def scored_seeds(self, model: str) -> list[int]:
        return sorted(s for s in self.models[model].seeds if self.val_acc(model, s) is not None)

    def mean_val_acc(self, model: str) -> float | None:
        """Mean validation accuracy over the model's seeds that have one."""
        values = [self.val_acc(model, s) for s in self.scored_seeds(model)]
        return sum(values) / len(values) if values else None

    def predictions(self, model: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(labels, correct per image) of the run's val_predictions.csv, checked as the report
        checks them (dlwpt.report.inputs.read_predictions)."""
        from dlwpt.report.inputs import read_predictions

        summary = self.summary(model, seed)
        path = self._read(model, seed, "predictions")
        try:
            return read_predictions(path, summary, self.models[model].seeds[seed].paths["summary"])
        except HistoryError:
            raise
        except DataError as e:
            raise self._error(e.path, e.problem) from e

    def _read(self, model: str, seed: int, name: str) -> Path:
        """The path of one run file; a blob is checked against its digest first."""
        files = self.models[model].seeds[seed]
        path = files.paths[name]
        if self.source is not None:
            check_blob(path, files.digests[name], self.source)
        return path

    def _error(self, path: str | os.PathLike, problem: str) -> DataError:
        if self.source is None:
            return DataError(path, problem)
        return HistoryError(path, f"{problem} (a blob of {self.source})")


# --- the store ------------------------------------------------------------------------------

def blob_path(history_dir: str | os.PathLike, digest: str) -> Path:
    return Path(history_dir) / "objects" / digest[:2] / digest


def check_blob(path: Path, digest: str, entry: Path | None = None) -> None:
    where = f" (referenced by {entry})" if entry else ""
    if not path.is_file():
        raise HistoryError(path, f"missing{where}")
    actual = file_digest(path)
    if actual != digest:
        raise HistoryError(path, f"sha256 {actual} does not match its name{where}: "
                                 "the blob was changed")


def store_blob(history_dir: str | os.PathLike, source: str | os.PathLike,
               digest: str | None = None) -> str:
    """Keep one file in the store; an identical file already kept is not written again (one
    found damaged is replaced). Returns its sha256."""
    digest = digest or file_digest(source)
    path = blob_path(history_dir, digest)
    if not (path.is_file() and file_digest(path) == digest):
        copy_atomic(source, path)
        if file_digest(path) != digest:  # the source changed while it was copied
            raise HistoryError(source, "changed while it was recorded")
    return digest


def entry_files(history_dir: str | os.PathLike) -> list[Path]:
    """The entries' files, oldest first (ids sort by time)."""
    folder = Path(history_dir) / "runs"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def load_entry(path: str | os.PathLike) -> dict[str, Any]:
    """An entry, checked: readable, of this layout, unedited (entry_digest), named by its id."""
    path = Path(path)
    try:
        entry = read_json(path)
    except OSError as e:
        raise HistoryError(path, f"cannot read ({e.strerror or e})") from e
    except ValueError as e:
        raise HistoryError(path, f"corrupt JSON ({e})") from e
    if not isinstance(entry, dict):
        raise HistoryError(path, "corrupt: not a history entry (a JSON object)")
    layout = entry.get("layout")
    if not isinstance(layout, int) or isinstance(layout, bool):
        raise HistoryError(path, "not a history entry of any known layout (no layout number)")
    if layout < LAYOUT:
        raise HistoryError(path, f"written by an older layout ({layout}); this checkout reads "
                                 f"layout {LAYOUT}: move {path.parent.parent} aside to start "
                                 "a new history")
    if layout > LAYOUT:
        raise HistoryError(path, f"written by a newer layout ({layout}); this checkout reads "
                                 f"layout {LAYOUT}: update the checkout")
    missing = [k for k in ENTRY_KEYS if k not in entry]
    if missing:
        raise HistoryError(path, f"corrupt: missing key(s) {', '.join(missing)}")
    recorded = entry["entry_digest"]
    actual = digest_of({k: v for k, v in entry.items() if k != "entry_digest"})
    if recorded != actual:
        raise HistoryError(path, f"entry_digest does not match its content (recorded "
                                 f"{str(recorded)[:12]}..., computed {actual[:12]}...): the "
                                 "entry was edited or damaged")
    if entry["id"] != path.stem:
        raise HistoryError(path, f"holds entry {entry['id']!r}, not the one its name says")
    return entry


ENTRY_KEYS = ("layout", "id", "time", "git_commit", "dirty", "experiment", "config", "data",
              "code", "models", "published", "entry_digest")


def snapshot_of(history_dir: str | os.PathLike, path: str | os.PathLike) -> Snapshot:
    """The checked entry at `path` as a Snapshot whose files are its blobs."""
    path = Path(path)
    entry = load_entry(path)
    try:
        models = {
            model: ModelRuns(dict(runs["settings"]), runs["settings_digest"], {
                int(seed): RunFiles({name: blob_path(history_dir, files[name])
                                     for name in RUN_FILES},
                                    {name: files[name] for name in RUN_FILES})
                for seed, files in runs["seeds"].items()})
            for model, runs in entry["models"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise HistoryError(path, f"corrupt: models ({type(e).__name__}: {e})") from e
    return Snapshot(config=entry["config"], data=entry["data"], code=entry["code"],
                    models=models, id=entry["id"], time=entry["time"],
                    git_commit=entry["git_commit"], dirty=entry["dirty"],
                    published=entry["published"], source=path)


def snapshots(history_dir: str | os.PathLike) -> list[Snapshot]:
    """Every entry, oldest first, each checked; an empty history raises."""
    files = entry_files(history_dir)
    if not files:
        raise HistoryError(history_dir, "no history: no run has been published here yet")
    return [snapshot_of(history_dir, path) for path in files]


def load(history_dir: str | os.PathLike, ref: str | None = None) -> Snapshot:
    """One entry: `ref` its id or a unique beginning of it; None, the latest."""
    files = entry_files(history_dir)
    if not files:
        raise HistoryError(history_dir, "no history: no run has been published here yet")
    if ref is None:
        return snapshot_of(history_dir, files[-1])
    matches = [p for p in files if p.stem == ref] or [p for p in files if p.stem.startswith(ref)]
    if not matches:
        raise HistoryError(Path(history_dir) / "runs",
                           f"no entry {ref!r} ({len(files)} entries, {files[0].stem} to "
                           f"{files[-1].stem}; `python -m dlwpt runs` lists them)")
    if len(matches) > 1:
        shown = ", ".join(p.stem for p in matches[:3]) + (", ..." if len(matches) > 3 else "")
        raise HistoryError(Path(history_dir) / "runs", f"{ref!r} begins {len(matches)} entries "
                                                       f"({shown}): give more of the id")
    return snapshot_of(history_dir, matches[0])


def previous(history_dir: str | os.PathLike, current: Snapshot) -> Snapshot | None:
    """What the page compares the current run with: the latest entry whose training (data,
    code, per model its settings and run files) differs from `current`'s, so a page published
    again (a report change, a new experiment label) still shows what the last change of the
    runs did. None when there is none (the first run). Raises HistoryError."""
    for path in reversed(entry_files(history_dir)):
        snapshot = snapshot_of(history_dir, path)
        if not snapshot.same_training(current):
            return snapshot
    return None


def record(history_dir: str | os.PathLike, snapshot: Snapshot,
           published: Mapping[str, str | os.PathLike], *, git_commit: str | None = None,
           now: datetime.datetime | None = None) -> str | None:
    """Add `snapshot` (from the current files) and the `published` tables (PUBLISHED -> path)
    as a new entry; None, adding nothing, when its content equals the latest entry's (the same
    results published again). `git_commit`: dlwpt.provenance.git_commit's "<sha>[-dirty]".
    Blobs first, the entry last: an entry never names a blob that is not there."""
    history_dir = Path(history_dir)
    content = snapshot.content()
    content["published"] = {name: file_digest(published[name]) for name in PUBLISHED}
    files = entry_files(history_dir)
    if files:
        # An unreadable latest entry (damaged, or of another layout) stops recording: a new
        # entry beside it would mix layouts, or hide the damage. publish_report warns.
        latest = load_entry(files[-1])
        if digest_of({k: latest[k] for k in content}) == digest_of(content):
            return None
    for runs in snapshot.models.values():
        for files_ in runs.seeds.values():
            for name in RUN_FILES:
                store_blob(history_dir, files_.paths[name], files_.digests[name])
    for name in PUBLISHED:
        store_blob(history_dir, published[name], content["published"][name])
    now = now or datetime.datetime.now(datetime.UTC)
    commit, dirty = split_commit(git_commit)
    base = f"{now:%Y%m%dT%H%M%SZ}-{digest_of(content)[:8]}"
    run_id, n = base, 1
    while (history_dir / "runs" / f"{run_id}.json").exists():  # the same content, same second
        n += 1
        run_id = f"{base}.{n}"
    entry = {"layout": LAYOUT, "id": run_id, "time": now.isoformat(timespec="seconds"),
             "git_commit": commit, "dirty": dirty, **content}
    entry["entry_digest"] = digest_of(entry)
    write_json(history_dir / "runs" / f"{run_id}.json", entry)
    return run_id


def split_commit(git_commit: str | None) -> tuple[str | None, bool | None]:
    """("<sha>", dirty) from provenance's "<sha>[-dirty]"; (None, None) outside git."""
    if not git_commit or git_commit.startswith("unknown"):
        return None, None
    dirty = git_commit.endswith("-dirty")
    return git_commit.removesuffix("-dirty"), dirty


# A training run's files, as rules/train.smk writes them and the report's inputs name them.


def run_files(inputs: Mapping[str, str | os.PathLike], models: Sequence[str],
              seeds: Sequence[int]) -> list[dict[str, Any]]:
    """The report's run entries, per model then seed, from its inputs named
    `<model>/seed<k>/<file>` (rules/common.smk's run_inputs)."""
    def named(model: str, seed: int, name: str) -> Path:
        return Path(inputs[f"{model}/seed{seed}/{name}"])

    return [{"model": m, "seed": int(s), "summary": named(m, s, "summary.json"),
             "metrics": named(m, s, "metrics.csv"), "model_pt": named(m, s, "model.pt"),
             "predictions": named(m, s, "val_predictions.csv")}
            for m in models for s in seeds]


def record_published(history_dir: str | os.PathLike, *, config: Mapping[str, Any],
                     runs: Iterable[Mapping[str, Any]], data_pt: str | os.PathLike | None,
                     code_files: Iterable[str | os.PathLike], repo: str | os.PathLike,
                     published: Mapping[str, str | os.PathLike],
                     log: logging.Logger) -> str | None:
    """publish_report's last step: record the run just published. Never fails the job: a
    history that cannot be read or written is a warning (the job's log and stderr)."""
    from dlwpt.provenance import git_commit

    try:
        snapshot = Snapshot.from_files(config=config, runs=runs, data_pt=data_pt,
                                       code_files=code_files, repo=repo)
        run_id = record(history_dir, snapshot, published, git_commit=git_commit(str(repo)))
    except Exception as e:  # the history must never fail the pipeline
        kind = "" if isinstance(e, DataError | OSError) else f"{type(e).__name__}: "
        log.warning("run not recorded in %s: %s%s", history_dir, kind, one_line(e))
        return None
    if run_id is None:
        log.info("history: the same as the latest entry in %s, nothing added", history_dir)
    else:
        log.info("history: recorded %s in %s", run_id, history_dir)
    return run_id


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


# --- what changed ---------------------------------------------------------------------------

class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # a setting one side does not have


@dataclass(frozen=True)
class SettingChange:
    """One flattened setting whose value differs: `lr 0.01 -> 0.005` (UNSET on a side that
    does not set it)."""

    key: str
    old: Any
    new: Any

    def __str__(self) -> str:
        def side(value: Any) -> str:
            return "unset" if value is UNSET else value_text(value)
        return f"{self.key} {side(self.old)} -> {side(self.new)}"


@dataclass(frozen=True)
class CodeChange:
    """A file of the training code that differs: sha256 on each side (None: absent there)."""

    path: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class ModelChange:
    """One model, old against new.

    status: ADDED / REMOVED (in one run only), CHANGED (settings, code or data), RETRAINED
    (same settings, code and data, other run files), UNCHANGED (the same run files on the
    seeds both have). old_acc / new_acc: mean validation accuracy, over the seeds compared when
    there is a paired difference (so new_acc - old_acc is its `diff`), else over each run's own
    seeds (None: absent, or no seed has one). comparison: for CHANGED and RETRAINED, a row of the
    comparisons layer (COMPARISON_COLUMNS, family FAMILY, model_a NEW, model_b OLD, so `diff`
    is new - old, on the seeds both ran: `seeds`), its verdict a comparisons code or
    comparisons.DATA_CHANGED; None otherwise."""

    model: str
    status: str
    settings: tuple[SettingChange, ...] = ()
    code: bool = False
    data: bool = False
    old_seeds: tuple[int, ...] = ()
    new_seeds: tuple[int, ...] = ()
    old_acc: float | None = None
    new_acc: float | None = None
    comparison: dict[str, Any] | None = None

    @property
    def verdict(self) -> str | None:
        return None if self.comparison is None else self.comparison["verdict"]


@dataclass(frozen=True)
class RunInfo:
    """Which run a side of a comparison is: its entry id and when, the commit, the label
    (id and time None: the current files, not yet recorded)."""

    id: str | None
    time: str | None
    git_commit: str | None
    dirty: bool | None
    experiment: str | None

    @classmethod
    def of(cls, snapshot: Snapshot) -> RunInfo:
        return cls(snapshot.id, snapshot.time, snapshot.git_commit, snapshot.dirty,
                   snapshot.experiment)


def date_text(time: str | None) -> str:
    """An entry's time as people read it: `2026-12-01 01:13` (UTC)."""
    return "—" if not time else time[:16].replace("T", " ")


def commit_text(commit: str | None, dirty: bool | None) -> str:
    """A short commit, `-dirty` when the checkout had uncommitted changes."""
    return "unknown" if not commit else commit[:10] + ("-dirty" if dirty else "")


@dataclass(frozen=True)
class Changes:
    """compare()'s answer. `first`: there is no old run (nothing to compare with; `models`
    is empty). `code`: the training code files that differ (`code_summary` names them).
    `models`: the new run's models in its order, then those only the old run had."""

    old: RunInfo | None
    new: RunInfo
    first: bool
    data_changed: bool
    code: tuple[CodeChange, ...]
    models: tuple[ModelChange, ...]

    def frame(self) -> pd.DataFrame:
        """One row per model: CHANGE_COLUMNS, then the comparison's COMPARISON_COLUMNS
        (NaN/None for a model without one), so verdicts.difference_words(row) reads a row."""
        import pandas as pd

        from dlwpt.report.comparisons import COMPARISON_COLUMNS, INTEGER_COLUMNS

        rows = []
        for m in self.models:
            row = {"model": m.model, "status": m.status, "settings": m.settings,
                   "code_changed": m.code, "data_changed": m.data,
                   "old_seeds": m.old_seeds, "new_seeds": m.new_seeds,
                   "old_acc": m.old_acc, "new_acc": m.new_acc}
            row.update({c: (m.comparison or {}).get(c) for c in COMPARISON_COLUMNS})
            rows.append(row)
        frame = pd.DataFrame(rows, columns=[*CHANGE_COLUMNS, *COMPARISON_COLUMNS])
        for column in INTEGER_COLUMNS:
            frame[column] = frame[column].astype("Int64")
        return frame


CHANGE_COLUMNS = ("model", "status", "settings", "code_changed", "data_changed", "old_seeds",
                  "new_seeds", "old_acc", "new_acc")


def setting_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[SettingChange, ...]:
    old_flat, new_flat = flatten(old), flatten(new)
    keys = [*old_flat, *(k for k in new_flat if k not in old_flat)]
    return tuple(SettingChange(k, old_flat.get(k, UNSET), new_flat.get(k, UNSET))
                 for k in keys if old_flat.get(k, UNSET) != new_flat.get(k, UNSET)
                 or type(old_flat.get(k)) is not type(new_flat.get(k)))


def code_changes(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[CodeChange, ...]:
    return tuple(CodeChange(path, old.get(path), new.get(path))
                 for path in sorted(set(old) | set(new)) if old.get(path) != new.get(path))


def code_summary(changes: Sequence[CodeChange], shown: int = CODE_FILES_SHOWN) -> list[str]:
    """The changed files, or with more than `shown` of them their folders ("dlwpt/engine/
    (3 files)"), for "code of ... changed"."""
    paths = [c.path for c in changes]
    if len(paths) <= shown:
        return paths
    folders: dict[str, int] = {}
    for path in paths:
        folder = path.rpartition("/")[0]
        folders[folder] = folders.get(folder, 0) + 1
    return [f"{folder or '.'}/ ({n} file{'s' if n > 1 else ''})" if n > 1
            else next(p for p in paths if p.rpartition("/")[0] == folder)
            for folder, n in folders.items()]


def compare(old: Snapshot | None, new: Snapshot) -> Changes:
    """What changed from `old` to `new` (None: the first run, nothing to compare with), per
    model (ModelChange), with the retrained models tested new against old on the seeds both
    ran (one Holm family over them). Raises HistoryError for a damaged blob of an entry."""
    if old is None:
        return Changes(None, RunInfo.of(new), True, False, (), ())
    from dlwpt.report.comparisons import COMPARISON_COLUMNS, DATA_CHANGED, adjust, untested

    data_changed = old.data != new.data
    code = code_changes(old.code, new.code)
    changes: list[ModelChange] = []
    rows: list[dict[str, Any]] = []
    tested: list[int] = []
    for model in [*new.models, *(m for m in old.models if m not in new.models)]:
        if model not in old.models:
            changes.append(ModelChange(model, ADDED, new_seeds=tuple(sorted(new.models[model]
                                                                           .seeds)),
                                       new_acc=new.mean_val_acc(model)))
            continue
        if model not in new.models:
            changes.append(ModelChange(model, REMOVED, old_seeds=tuple(sorted(old.models[model]
                                                                             .seeds)),
                                       old_acc=old.mean_val_acc(model)))
            continue
        before, after = old.models[model], new.models[model]
        settings = setting_changes(before.settings, after.settings)
        shared = sorted(set(before.seeds) & set(after.seeds))
        retrained = any(before.seeds[s].digests != after.seeds[s].digests for s in shared)
        status = (CHANGED if settings or code or data_changed
                  else RETRAINED if retrained else UNCHANGED)
        row = None
        if status != UNCHANGED:
            if data_changed:
                row = untested(FAMILY, "val_acc", NEW, OLD, DATA_CHANGED,
                               sorted(set(old.scored_seeds(model)) & set(new.scored_seeds(model))))
            else:
                row = paired_row(old, new, model)
            rows.append(row)
            tested.append(len(changes))
        changes.append(ModelChange(model, status, settings, bool(code), data_changed,
                                   tuple(sorted(before.seeds)), tuple(sorted(after.seeds)),
                                   old.mean_val_acc(model), new.mean_val_acc(model), row))
    adjust(rows)  # Holm over the tested rows; every row finished (detectable_80)
    for i, row in zip(tested, rows, strict=True):
        compared = {}
        if row.get("value_a") is not None:  # tested: the accuracies the difference is of
            compared = {"new_acc": row["value_a"], "old_acc": row["value_b"]}
        changes[i] = replace(changes[i], comparison={c: row.get(c) for c in COMPARISON_COLUMNS},
                             **compared)
    return Changes(RunInfo.of(old), RunInfo.of(new), False, data_changed, code, tuple(changes))


def paired_row(old: Snapshot, new: Snapshot, model: str) -> dict[str, Any]:
    """new against old for one model, as the comparisons layer tests two models: its old and
    new runs are the two "models" of a `Runs` (not adjusted yet: `adjust` over the family)."""
    from dlwpt.report.comparisons import DATA_CHANGED, Runs, untested, validation_row

    scored = {NEW: new.scored_seeds(model), OLD: old.scored_seeds(model)}
    diverged = {side for side, snap in ((NEW, new), (OLD, old)) if snap.diverged(model)}
    seeds = sorted(set(scored[NEW]) & set(scored[OLD]))
    correct = {}
    if not diverged:
        for seed in seeds:
            new_labels, correct[(NEW, seed)] = new.predictions(model, seed)
            old_labels, correct[(OLD, seed)] = old.predictions(model, seed)
            if len(new_labels) != len(old_labels) or (new_labels != old_labels).any():
                return untested(FAMILY, "val_acc", NEW, OLD, DATA_CHANGED, seeds)
    runs = Runs(models=[NEW, OLD],
                ran={NEW: set(new.models[model].seeds), OLD: set(old.models[model].seeds)},
                scored=scored, diverged=diverged, correct=correct)
    return validation_row(runs, FAMILY, NEW, OLD, runs.shared(NEW, OLD))
