"""Experiments over time: every published run kept (results/history/, docs/ARCHITECTURE.md),
and what each change did, measured. A damaged entry is moved aside, so recording goes on.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dlwpt.code_inputs import source_digest
from dlwpt.io import (
    DataError,
    copy_atomic,
    file_digest,
    json_digest,
    one_line,
    read_json,
    write_json,
)
from dlwpt.provenance import git_commit
from dlwpt.results import changes as c
from dlwpt.results import comparisons as cmp
from dlwpt.results.reading import read_checked_json, read_predictions
from dlwpt.runs import RunFiles, blob_path, job_settings, model_config

LAYOUT = 1
RUN_FILES = ("summary", "metrics", "predictions")
PUBLISHED = ("metrics", "comparisons")
DAMAGED = "damaged"  # the folder beside runs/ that damaged entries are moved to
log = logging.getLogger(__name__)


class HistoryError(DataError):
    """A history that cannot be read (the pipeline never fails on one: a warning)."""


class DamagedEntry(HistoryError):
    """An entry that is no entry any more (unreadable, edited, misnamed): moved aside."""


def model_settings(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    """What trains one model: its hyperparameters, and under "train" the job's settings."""
    return {**model_config(config, model), "train": job_settings(config)}


# --- the content of a run -------------------------------------------------------------------

@dataclass(frozen=True)
class StoredRun:
    """One (model, seed) as an entry records it: its files (its own, or blobs) and their sha256."""

    files: RunFiles
    digests: dict[str, str]  # RUN_FILES -> sha256 hex

    def path(self, name: str) -> Path:
        return getattr(self.files, name)


@dataclass(frozen=True)
class ModelRuns:
    settings: dict[str, Any]
    settings_digest: str
    seeds: dict[int, StoredRun]


@dataclass
class Snapshot:
    """One run's content: config, settings, code, data, and per (model, seed) its files; from
    an entry (the files are blobs, checked when read) or from the current files."""

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
        """The current run; `code_files` are recorded relative to `repo`, the checkout, so the
        keys are the same from any working directory."""
        models: dict[str, ModelRuns] = {}
        for run in runs:
            model, seed = run["model"], int(run["seed"])
            if model not in models:
                settings = model_settings(config, model)
                models[model] = ModelRuns(settings, json_digest(settings), {})
            paths = {name: Path(run[name]) for name in RUN_FILES}
            models[model].seeds[seed] = StoredRun(
                RunFiles(**paths), {name: file_digest(path) for name, path in paths.items()})
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
        return {"experiment": self.experiment, "config": self.config, "data": self.data,
                "code": self.code,
                "models": {model: {"settings": runs.settings,
                                   "settings_digest": runs.settings_digest,
                                   "seeds": {str(seed): dict(run.digests)
                                             for seed, run in sorted(runs.seeds.items())}}
                           for model, runs in self.models.items()},
                "published": dict(self.published)}

    def same_training(self, other: Snapshot) -> bool:
        """Same data, training code, and per model the same settings and run files."""
        return (self.data == other.data and self.code == other.code
                and self.content()["models"] == other.content()["models"])

    def summary(self, model: str, seed: int) -> dict[str, Any]:
        if (model, seed) not in self._summaries:
            self._summaries[(model, seed)] = self._checked(
                read_checked_json, self._read(model, seed, "summary"))
        return self._summaries[(model, seed)]

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
        """(labels, correct per image) of the run's val_predictions.csv, checked."""
        return self._checked(read_predictions, self._read(model, seed, "predictions"),
                             self.summary(model, seed), self._read(model, seed, "summary"))

    def _read(self, model: str, seed: int, name: str) -> Path:
        """The path of one run file; a blob is checked against its digest first."""
        run = self.models[model].seeds[seed]
        if self.source is not None:
            check_blob(run.path(name), run.digests[name], self.source)
        return run.path(name)

    def _checked(self, read: Any, path: Path, *args: Any) -> Any:
        """read(path, *args); a problem of an entry's blob is a HistoryError naming the entry."""
        try:
            return read(path, *args)
        except DataError as e:
            if self.source is None or isinstance(e, HistoryError):
                raise
            raise HistoryError(e.path, f"{e.problem} (a blob of {self.source})") from e


# --- the store ------------------------------------------------------------------------------

def check_blob(path: Path, digest: str, entry: Path | None = None) -> None:
    where = f" (referenced by {entry})" if entry else ""
    if not path.is_file():
        raise HistoryError(path, f"missing{where}")
    actual = file_digest(path)
    if actual != digest:
        raise HistoryError(path, f"sha256 {actual} does not match its name{where}: "
                                 "the blob was changed")


def store_blob(history_dir: str | os.PathLike, source: str | os.PathLike, digest: str) -> None:
    """Keep one file, of sha256 `digest`, in the store (again only if the kept copy is damaged)."""
    path = blob_path(history_dir, digest)
    if not (path.is_file() and file_digest(path) == digest):
        copy_atomic(source, path)
        if file_digest(path) != digest:  # the source changed while it was copied
            raise HistoryError(source, "changed while it was recorded")


def entry_files(history_dir: str | os.PathLike) -> list[Path]:
    """The entries' files, oldest first (ids sort by time)."""
    folder = Path(history_dir) / "runs"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def load_entry(path: str | os.PathLike) -> dict[str, Any]:
    """An entry, checked: readable, of this layout, unedited, named by its id."""
    path = Path(path)
    try:
        entry = read_json(path)
    except OSError as e:
        raise HistoryError(path, f"cannot read ({e.strerror or e})") from e
    except ValueError as e:
        raise DamagedEntry(path, f"corrupt JSON ({e})") from e
    if not isinstance(entry, dict) or not isinstance(entry.get("layout"), int) \
            or isinstance(entry["layout"], bool):
        raise DamagedEntry(path, "corrupt: not a history entry (a JSON object with a layout)")
    layout = entry["layout"]
    if layout != LAYOUT:
        raise HistoryError(path, f"written by {'an older' if layout < LAYOUT else 'a newer'} "
                                 f"layout ({layout}); this checkout reads layout {LAYOUT}: "
                                 + (f"move {path.parent.parent} aside to start a new history"
                                    if layout < LAYOUT else "update the checkout"))
    missing = [k for k in ENTRY_KEYS if k not in entry]
    if missing:
        raise DamagedEntry(path, f"corrupt: missing key(s) {', '.join(missing)}")
    recorded = entry["entry_digest"]
    actual = json_digest({k: v for k, v in entry.items() if k != "entry_digest"})
    if recorded != actual:
        raise DamagedEntry(path, f"entry_digest does not match its content (recorded "
                                 f"{str(recorded)[:12]}..., computed {actual[:12]}...): the "
                                 "entry was edited or damaged")
    if entry["id"] != path.stem:
        raise DamagedEntry(path, f"holds entry {entry['id']!r}, not the one its name says")
    return entry


ENTRY_KEYS = ("layout", "id", "time", "git_commit", "dirty", "experiment", "config", "data",
              "code", "models", "published", "entry_digest")


def move_aside(path: Path, error: DamagedEntry) -> Path:
    """Move a damaged entry to damaged/ beside runs/ (kept for a look), saying so in one line."""
    target = path.parent.parent / DAMAGED / path.name
    if target.exists():  # an entry of that name moved before
        target = target.with_name(f"{path.stem}.{time.time_ns()}{path.suffix}")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    log.warning("history: %s moved to %s: %s", path, target.parent, error.problem)
    return target


def snapshot_of(history_dir: str | os.PathLike, path: str | os.PathLike) -> Snapshot:
    """The checked entry at `path` as a Snapshot whose files are its blobs."""
    path = Path(path)
    entry = load_entry(path)
    try:
        models = {
            model: ModelRuns(dict(runs["settings"]), runs["settings_digest"], {
                int(seed): StoredRun(RunFiles(**{name: blob_path(history_dir, files[name])
                                                 for name in RUN_FILES}),
                                     {name: files[name] for name in RUN_FILES})
                for seed, files in runs["seeds"].items()})
            for model, runs in entry["models"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise DamagedEntry(path, f"corrupt: models ({type(e).__name__}: {e})") from e
    kept = ("config", "data", "code", "id", "time", "git_commit", "dirty", "published")
    return Snapshot(**{k: entry[k] for k in kept}, models=models, source=path)


def newest_first(history_dir: str | os.PathLike) -> Iterable[Snapshot]:
    """The entries, newest first, each checked; a damaged one is moved aside and skipped."""
    for path in reversed(entry_files(history_dir)):
        try:
            yield snapshot_of(history_dir, path)
        except DamagedEntry as e:
            move_aside(path, e)


def snapshots(history_dir: str | os.PathLike) -> list[Snapshot]:
    """Every entry, oldest first, each checked; an empty history raises."""
    found = list(newest_first(history_dir))[::-1]
    if not found:
        raise HistoryError(history_dir, "no history: no run has been published here yet")
    return found


def load(history_dir: str | os.PathLike, ref: str | None = None) -> Snapshot:
    """One entry: `ref` its id or a unique beginning of it; None, the latest."""
    files = entry_files(history_dir)
    if ref is None or not files:
        return snapshots(history_dir)[-1]
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
    """The latest entry whose training differs from `current`'s (None: none), so a page
    published again still shows what the last change of the runs did."""
    return next((s for s in newest_first(history_dir) if not s.same_training(current)), None)


def record(history_dir: str | os.PathLike, snapshot: Snapshot,
           published: Mapping[str, str | os.PathLike], *, git_commit: str | None = None,
           now: datetime.datetime | None = None) -> str | None:
    """Add `snapshot` and the `published` tables as a new entry; None, adding nothing, when its
    content equals the latest entry's. Blobs first, the entry last: an entry never names a
    blob that is not there."""
    history_dir = Path(history_dir)
    content = snapshot.content()
    content["published"] = {name: file_digest(published[name]) for name in PUBLISHED}
    # An entry of another layout stops recording (publish_report warns): a new entry beside
    # it would mix layouts. A damaged one is moved aside.
    latest = next(newest_first(history_dir), None)
    if latest is not None and json_digest(latest.content()) == json_digest(content):
        return None
    for runs in snapshot.models.values():
        for run in runs.seeds.values():
            for name in RUN_FILES:
                store_blob(history_dir, run.path(name), run.digests[name])
    for name in PUBLISHED:
        store_blob(history_dir, published[name], content["published"][name])
    now = now or datetime.datetime.now(datetime.UTC)
    commit, dirty = None, None  # outside git: provenance's "unknown"
    if git_commit and not git_commit.startswith("unknown"):  # "<sha>[-dirty]"
        commit, dirty = git_commit.removesuffix("-dirty"), git_commit.endswith("-dirty")
    base = f"{now:%Y%m%dT%H%M%SZ}-{json_digest(content)[:8]}"
    run_id, n = base, 1
    while (history_dir / "runs" / f"{run_id}.json").exists():  # the same content, same second
        n += 1
        run_id = f"{base}.{n}"
    entry = {"layout": LAYOUT, "id": run_id, "time": now.isoformat(timespec="seconds"),
             "git_commit": commit, "dirty": dirty, **content}
    entry["entry_digest"] = json_digest(entry)
    write_json(history_dir / "runs" / f"{run_id}.json", entry)
    return run_id


def record_published(history_dir: str | os.PathLike, *, config: Mapping[str, Any],
                     runs: Iterable[Mapping[str, Any]], data_pt: str | os.PathLike | None,
                     code_files: Iterable[str | os.PathLike], repo: str | os.PathLike,
                     published: Mapping[str, str | os.PathLike],
                     log: logging.Logger) -> str | None:
    """Record the run just published; a history that cannot be read or written is a warning,
    never a failed job."""
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


# --- what changed ---------------------------------------------------------------------------

def compare(old: Snapshot | None, new: Snapshot) -> c.Changes:
    """What changed from `old` to `new` (None: the first run) per model, the retrained ones
    tested new against old on the seeds both ran (one Holm family); a model whose files in the
    history are missing or damaged is NOT_COMPARED, the others are compared."""
    if old is None:
        return c.Changes(None, c.RunInfo.of(new), True, False, (), ())
    data_changed = old.data != new.data
    code = c.code_changes(old.code, new.code)
    changes: list[c.ModelChange] = []
    rows: list[dict[str, Any]] = []
    tested: list[int] = []
    for model in [*new.models, *(m for m in old.models if m not in new.models)]:
        try:
            change = model_change(old, new, model, bool(code), data_changed)
        except HistoryError as e:
            changes.append(c.ModelChange(model, c.NOT_COMPARED, problem=str(e)))
            continue
        if change.comparison is not None:
            rows.append(change.comparison)
            tested.append(len(changes))
        changes.append(change)
    cmp.adjust(rows)  # Holm over the tested rows; every row finished (detectable_80)
    for i, row in zip(tested, rows, strict=True):
        tested_on = ({"new_acc": row["value_a"], "old_acc": row["value_b"]}  # the seeds compared
                     if row.get("value_a") is not None else {})
        changes[i] = replace(changes[i], **tested_on,
                             comparison={k: row.get(k) for k in cmp.COMPARISON_COLUMNS})
    return c.Changes(c.RunInfo.of(old), c.RunInfo.of(new), False, data_changed, code,
                     tuple(changes))


def model_change(old: Snapshot, new: Snapshot, model: str, code: bool,
                 data_changed: bool) -> c.ModelChange:
    """One model's change; its comparison row (CHANGED, RETRAINED) is not adjusted yet."""
    if model not in old.models:
        return c.ModelChange(model, c.ADDED, new_seeds=tuple(sorted(new.models[model].seeds)),
                             new_acc=new.mean_val_acc(model))
    if model not in new.models:
        return c.ModelChange(model, c.REMOVED, old_seeds=tuple(sorted(old.models[model].seeds)),
                             old_acc=old.mean_val_acc(model))
    before, after = old.models[model], new.models[model]
    settings = c.setting_changes(before.settings, after.settings)
    shared = sorted(set(before.seeds) & set(after.seeds))
    retrained = any(before.seeds[s].digests != after.seeds[s].digests for s in shared)
    status = (c.CHANGED if settings or code or data_changed
              else c.RETRAINED if retrained else c.UNCHANGED)
    row = None
    if status != c.UNCHANGED:
        seeds = sorted(set(old.scored_seeds(model)) & set(new.scored_seeds(model)))
        row = (paired_row(old, new, model) if not data_changed else
               cmp.untested(c.FAMILY, cmp.VAL_ACC, c.NEW, c.OLD, cmp.DATA_CHANGED, seeds))
    return c.ModelChange(model, status, settings, code, data_changed,
                         tuple(sorted(before.seeds)), tuple(sorted(after.seeds)),
                         old.mean_val_acc(model), new.mean_val_acc(model), row)


def paired_row(old: Snapshot, new: Snapshot, model: str) -> dict[str, Any]:
    """new against old for one model: its old and new runs are the two "models" of a `Runs`
    (not adjusted yet)."""
    scored = {c.NEW: new.scored_seeds(model), c.OLD: old.scored_seeds(model)}
    diverged = {side for side, snap in ((c.NEW, new), (c.OLD, old)) if snap.diverged(model)}
    seeds = sorted(set(scored[c.NEW]) & set(scored[c.OLD]))
    correct = {}
    if not diverged:
        for seed in seeds:
            new_labels, correct[(c.NEW, seed)] = new.predictions(model, seed)
            old_labels, correct[(c.OLD, seed)] = old.predictions(model, seed)
            if len(new_labels) != len(old_labels) or (new_labels != old_labels).any():
                return cmp.untested(c.FAMILY, cmp.VAL_ACC, c.NEW, c.OLD, cmp.DATA_CHANGED, seeds)
    runs = cmp.Runs(models=[c.NEW, c.OLD],
                ran={c.NEW: set(new.models[model].seeds), c.OLD: set(old.models[model].seeds)},
                scored=scored, diverged=diverged, correct=correct)
    return cmp.validation_row(runs, c.FAMILY, c.NEW, c.OLD, runs.shared(c.NEW, c.OLD))
