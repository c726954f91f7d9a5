"""Experiments over time: every published run kept (results/history/, docs/ARCHITECTURE.md),
and what each change did, measured. A damaged entry is moved aside, so recording goes on."""

import datetime
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from itertools import chain, count
from pathlib import Path
from typing import Any, Self

import numpy as np

from dlwpt import io
from dlwpt.code_inputs import source_digest
from dlwpt.provenance import git_commit
from dlwpt.results import changes as c
from dlwpt.results import comparisons as cmp
from dlwpt.results.reading import read_checked_json, read_predictions
from dlwpt.runs import blob_path, job_settings, model_config

LAYOUT = 1
RUN_FILES = ("summary", "metrics", "predictions")
PUBLISHED = ("metrics", "comparisons")
ENTRY_KEYS = ("layout", "id", "time", "git_commit", "dirty", "experiment", "config", "data",
              "code", "models", "published", "entry_digest")
log = logging.getLogger(__name__)


class HistoryError(io.DataError):
    """A history that cannot be read (the pipeline never fails on one: a warning)."""


class DamagedEntry(HistoryError):
    """An entry that is no entry any more (unreadable, edited, misnamed): moved aside."""


# --- the content of a run -------------------------------------------------------------------

@dataclass(frozen=True)
class ModelRuns:
    """One model's settings (its hyperparameters, the job's under "train") and per seed the
    sha256 of each of its RUN_FILES."""

    settings: dict[str, Any]
    settings_digest: str
    seeds: dict[int, dict[str, str]]


@dataclass
class Snapshot:
    """One run's content, from an entry (its files are blobs, checked when read) or from the
    current files (`files`: sha256 -> the file holding it)."""

    config: dict[str, Any]
    data: str | None
    code: dict[str, str]
    models: dict[str, ModelRuns]
    files: dict[str, Path] = field(default_factory=dict)
    id: str | None = None
    time: str | None = None
    git_commit: str | None = None
    dirty: bool | None = None
    published: dict[str, str] = field(default_factory=dict)
    source: Path | None = None  # the entry's file; None for current files
    # Each summary read and checked once: the comparisons ask for it per figure and seed.
    summaries: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict, repr=False,
                                                             compare=False)

    @property
    def experiment(self) -> str | None:
        return self.config.get("experiment")

    @classmethod
    def from_files(cls, *, config: Mapping[str, Any], runs: Iterable[Mapping[str, Any]],
                   data_pt: str | os.PathLike | None, code_files: Iterable[str | os.PathLike],
                   repo: str | os.PathLike) -> Self:
        """The current run; `code_files` are recorded relative to `repo`, the checkout, so the
        keys are the same from any working directory."""
        models: dict[str, ModelRuns] = {}
        files: dict[str, Path] = {}
        for run in runs:
            if run["model"] not in models:
                settings = {**model_config(config, run["model"]), "train": job_settings(config)}
                models[run["model"]] = ModelRuns(settings, io.json_digest(settings), {})
            digests = {name: io.file_digest(run[name]) for name in RUN_FILES}
            models[run["model"]].seeds[int(run["seed"])] = digests
            files |= {digests[name]: Path(run[name]) for name in RUN_FILES}
        repo, code = Path(repo).resolve(), {}
        for path in map(Path, code_files):
            resolved = path.resolve()
            key = resolved.relative_to(repo) if resolved.is_relative_to(repo) else path
            # as the workflow compares code (its params): a docstring-only edit is no change
            code[key.as_posix()] = source_digest(resolved)
        return cls(config=dict(config), data=io.file_digest(data_pt) if data_pt else None,
                   code=dict(sorted(code.items())), models=models, files=files)

    def content(self) -> dict[str, Any]:
        """The entry's content (what makes two runs the same), files by digest."""
        models = {model: {**asdict(runs), "seeds": {str(seed): digests for seed, digests
                                                    in sorted(runs.seeds.items())}}
                  for model, runs in self.models.items()}
        return {"experiment": self.experiment, "config": self.config, "data": self.data,
                "code": self.code, "models": models, "published": dict(self.published)}

    def same_training(self, other: Self) -> bool:
        """Same data, training code, and per model the same settings and run files."""
        return (self.data, self.code, self.models) == (other.data, other.code, other.models)

    def summary(self, model: str, seed: int) -> dict[str, Any]:
        if (model, seed) not in self.summaries:
            self.summaries[model, seed] = self._read(model, seed, "summary", read_checked_json)
        return self.summaries[model, seed]

    def val_accs(self, model: str) -> dict[int, float]:
        """Per seed, its validation accuracy; none for a run that diverged in its first epoch."""
        accs = {s: self.summary(model, s).get("val_acc") for s in sorted(self.models[model].seeds)}
        return {s: float(v) for s, v in accs.items() if v is not None and math.isfinite(v)}

    def mean_val_acc(self, model: str) -> float | None:
        values = list(self.val_accs(model).values())
        return sum(values) / len(values) if values else None

    def diverged(self, model: str) -> bool:
        return any(self.summary(model, s).get("diverged_epoch") is not None
                   for s in self.models[model].seeds)

    def predictions(self, model: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
        return self._read(model, seed, "predictions", read_predictions, self.summary(model, seed),
                          self.path(self.models[model].seeds[seed]["summary"]))

    def path(self, digest: str) -> Path:
        """Where the file of sha256 `digest` is: the current file, or the entry's blob."""
        return self.files[digest] if self.source is None else blob_path(
            self.source.parent.parent, digest)

    def _read(self, model: str, seed: int, name: str, read: Any, *args: Any) -> Any:
        """read(path of one run file, *args); an entry's blob is checked against its name
        first, and its problem is a HistoryError naming the entry."""
        digest = self.models[model].seeds[seed][name]
        path = self.path(digest)
        try:
            if self.source is not None and not path.is_file():
                raise HistoryError(path, f"missing (referenced by {self.source})")
            if self.source is not None and (actual := io.file_digest(path)) != digest:
                raise HistoryError(path, f"sha256 {actual} does not match its name (referenced "
                                         f"by {self.source}): the blob was changed")
            return read(path, *args)
        except io.DataError as e:
            if self.source is None or isinstance(e, HistoryError):
                raise
            raise HistoryError(e.path, f"{e.problem} (a blob of {self.source})") from e


# --- the store ------------------------------------------------------------------------------

def entry_files(history_dir: str | os.PathLike) -> list[Path]:
    """The entries' files, oldest first (ids sort by time)."""
    return sorted(Path(history_dir).glob("runs/*.json"))


def snapshot_of(path: Path) -> Snapshot:
    """The entry at `path`, checked (readable, of this layout, unedited, named by its id), as a
    Snapshot whose files are its blobs."""
    try:
        entry = io.read_json(path)
    except OSError as e:
        raise HistoryError(path, f"cannot read ({e.strerror or e})") from e
    except ValueError as e:
        raise DamagedEntry(path, f"corrupt JSON ({e})") from e
    layout = entry.get("layout") if isinstance(entry, dict) else None
    if type(layout) is not int:
        raise DamagedEntry(path, "corrupt: not a history entry (a JSON object with a layout)")
    if layout != LAYOUT:
        raise HistoryError(path, f"written by {'an older' if layout < LAYOUT else 'a newer'} "
                                 f"layout ({layout}); this checkout reads layout {LAYOUT}: "
                                 + (f"move {path.parent.parent} aside to start a new history"
                                    if layout < LAYOUT else "update the checkout"))
    missing = [k for k in ENTRY_KEYS if k not in entry]
    actual = io.json_digest({k: v for k, v in entry.items() if k != "entry_digest"})
    problem = (
        f"corrupt: missing key(s) {', '.join(missing)}" if missing else
        f"entry_digest does not match its content (recorded {str(entry['entry_digest'])[:12]}"
        f"..., computed {actual[:12]}...): the entry was edited or damaged"
        if entry["entry_digest"] != actual else
        f"holds entry {entry['id']!r}, not the one its name says" if entry["id"] != path.stem
        else None)
    if problem:
        raise DamagedEntry(path, problem)
    try:
        models = {model: ModelRuns(dict(runs["settings"]), runs["settings_digest"],
                                   {int(seed): {name: files[name] for name in RUN_FILES}
                                    for seed, files in runs["seeds"].items()})
                  for model, runs in entry["models"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise DamagedEntry(path, f"corrupt: models ({type(e).__name__}: {e})") from e
    kept = ("config", "data", "code", "id", "time", "git_commit", "dirty", "published")
    return Snapshot(**{k: entry[k] for k in kept}, models=models, source=path)


def newest_first(history_dir: str | os.PathLike) -> Iterable[Snapshot]:
    """The entries, newest first, each checked; a damaged one is moved to damaged/ beside
    runs/ (kept for a look), saying so in one line, and skipped."""
    for path in reversed(entry_files(history_dir)):
        try:
            yield snapshot_of(path)
        except DamagedEntry as e:
            target = path.parent.parent / "damaged" / path.name
            if target.exists():  # an entry of that name moved before
                target = target.with_name(f"{path.stem}.{time.time_ns()}{path.suffix}")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            log.warning("history: %s moved to %s: %s", path, target.parent, e.problem)


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
    return snapshot_of(matches[0])


def previous(history_dir: str | os.PathLike, current: Snapshot) -> Snapshot | None:
    """The latest entry whose training differs from `current`'s (None: none), so a page
    published again still shows what the last change of the runs did."""
    return next((s for s in newest_first(history_dir) if not s.same_training(current)), None)


def record(history_dir: str | os.PathLike, snapshot: Snapshot,
           published: Mapping[str, str | os.PathLike], *, git_commit: str | None = None,
           now: datetime.datetime | None = None) -> str | None:
    """Add `snapshot` (of the current files) and the `published` tables as a new entry (None:
    the latest's content, nothing added); blobs first: an entry never names a missing blob."""
    history_dir = Path(history_dir)
    content = snapshot.content()
    content["published"] = {name: io.file_digest(published[name]) for name in PUBLISHED}
    # An entry of another layout stops recording (publish_report warns): a new entry beside
    # it would mix layouts. A damaged one is moved aside.
    latest = next(newest_first(history_dir), None)
    if latest is not None and io.json_digest(latest.content()) == io.json_digest(content):
        return None
    tables = {content["published"][name]: published[name] for name in PUBLISHED}
    for digest, source in (snapshot.files | tables).items():
        path = blob_path(history_dir, digest)
        if not (path.is_file() and io.file_digest(path) == digest):  # kept once, again if damaged
            io.copy_atomic(source, path)
            if io.file_digest(path) != digest:  # the source changed while it was copied
                raise HistoryError(source, "changed while it was recorded")
    now = now or datetime.datetime.now(datetime.UTC)
    commit, dirty = None, None  # outside git: provenance's "unknown"
    if git_commit and not git_commit.startswith("unknown"):  # "<sha>[-dirty]"
        commit, dirty = git_commit.removesuffix("-dirty"), git_commit.endswith("-dirty")
    base = f"{now:%Y%m%dT%H%M%SZ}-{io.json_digest(content)[:8]}"
    ids = chain([base], (f"{base}.{n}" for n in count(2)))  # the same content, same second
    run_id = next(i for i in ids if not (history_dir / "runs" / f"{i}.json").exists())
    entry = {"layout": LAYOUT, "id": run_id, "time": now.isoformat(timespec="seconds"),
             "git_commit": commit, "dirty": dirty, **content}
    entry["entry_digest"] = io.json_digest(entry)
    io.write_json(history_dir / "runs" / f"{run_id}.json", entry)
    return run_id


def record_published(history_dir: str | os.PathLike, *,
                     published: Mapping[str, str | os.PathLike], log: logging.Logger,
                     **run: Any) -> str | None:
    """Record the run just published (`run`: Snapshot.from_files'); a history that cannot be
    read or written is a warning, never a failed job."""
    try:
        run_id = record(history_dir, Snapshot.from_files(**run), published,
                        git_commit=git_commit(str(run["repo"])))
    except Exception as e:  # the history must never fail the pipeline
        kind = "" if isinstance(e, io.DataError | OSError) else f"{type(e).__name__}: "
        log.warning("run not recorded in %s: %s%s", history_dir, kind, io.one_line(e))
        return None
    if run_id is None:
        log.info("history: the same as the latest entry in %s, nothing added", history_dir)
    else:
        log.info("history: recorded %s in %s", run_id, history_dir)
    return run_id


# --- what changed ---------------------------------------------------------------------------

def compare(old: Snapshot | None, new: Snapshot) -> c.Changes:
    """What changed from `old` (None: the first run) to `new` per model: each retrained one tested
    on the seeds both ran (one Holm family), one with missing or damaged files NOT_COMPARED."""
    if old is None:
        return c.Changes(None, c.RunInfo.of(new), True, False, (), ())
    data_changed = old.data != new.data
    code = tuple(c.CodeChange(path, old.code.get(path), new.code.get(path))
                 for path in sorted({*old.code, *new.code})
                 if old.code.get(path) != new.code.get(path))
    changes: list[c.ModelChange] = []
    for model in [*new.models, *(m for m in old.models if m not in new.models)]:
        try:
            changes.append(model_change(old, new, model, bool(code), data_changed))
        except HistoryError as e:
            changes.append(c.ModelChange(model, c.NOT_COMPARED, problem=str(e)))
    # Holm over the tested rows; every row finished (detectable_80), in place
    cmp.adjust([m.comparison for m in changes if m.comparison is not None])
    return c.Changes(c.RunInfo.of(old), c.RunInfo.of(new), False, data_changed, code,
                     tuple(changes))


def model_change(old: Snapshot, new: Snapshot, model: str, code: bool,
                 data_changed: bool) -> c.ModelChange:
    """One model's change. CHANGED, RETRAINED: its new runs against its old, the two "models" of
    a `Runs`, paired only on the same images (the row not adjusted yet)."""
    old_seeds = tuple(sorted(old.models[model].seeds)) if model in old.models else ()
    new_seeds = tuple(sorted(new.models[model].seeds)) if model in new.models else ()
    if model not in old.models:
        return c.ModelChange(model, c.ADDED, new_seeds=new_seeds, new_acc=new.mean_val_acc(model))
    if model not in new.models:
        return c.ModelChange(model, c.REMOVED, old_seeds=old_seeds, old_acc=old.mean_val_acc(model))
    before, after = old.models[model], new.models[model]
    settings = c.setting_changes(before.settings, after.settings)
    retrained = any(before.seeds[s] != after.seeds[s] for s in set(before.seeds) & set(after.seeds))
    status = (c.CHANGED if settings or code or data_changed
              else c.RETRAINED if retrained else c.UNCHANGED)
    if status == c.UNCHANGED:
        return c.ModelChange(model, status, settings, code, data_changed, old_seeds, new_seeds,
                             old.mean_val_acc(model), new.mean_val_acc(model))
    scored = {c.NEW: list(new.val_accs(model)), c.OLD: list(old.val_accs(model))}
    diverged = {side for side, snap in ((c.NEW, new), (c.OLD, old)) if snap.diverged(model)}
    seeds = sorted(set(scored[c.NEW]) & set(scored[c.OLD]))
    correct, other_images = {}, data_changed
    for seed in () if diverged or data_changed else seeds:
        new_labels, correct[(c.NEW, seed)] = new.predictions(model, seed)
        old_labels, correct[(c.OLD, seed)] = old.predictions(model, seed)
        if other_images := not np.array_equal(new_labels, old_labels):
            break
    if other_images:
        row = cmp.untested(c.FAMILY, cmp.VAL_ACC, c.NEW, c.OLD, cmp.DATA_CHANGED, seeds)
    else:
        runs = cmp.Runs([c.NEW, c.OLD], {}, scored, diverged, correct)
        row = cmp.validation_row(runs, c.FAMILY, c.NEW, c.OLD, seeds)
    row = dict.fromkeys(cmp.COMPARISON_COLUMNS) | row
    # tested: the accuracies over the seeds compared, so that new - old is the row's diff
    accs = ((row["value_b"], row["value_a"]) if row["value_a"] is not None
            else (old.mean_val_acc(model), new.mean_val_acc(model)))
    return c.ModelChange(model, status, settings, code, data_changed, old_seeds, new_seeds,
                         *accs, row)
