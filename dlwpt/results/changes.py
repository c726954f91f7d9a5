"""What changed between two runs of the history, as data (dlwpt.history.compare fills it in;
dlwpt.report.verdicts words it for the page and `python -m dlwpt diff`)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

FAMILY = "history"  # the comparisons family of compare()'s tests (Holm over its tested rows)
NEW, OLD = "new", "old"  # the two "models" of each test: diff = new - old
# Model status in compare()
ADDED, REMOVED = "added", "removed"  # in the new run only / in the old run only
CHANGED = "changed"  # its settings, the training code or the data changed
RETRAINED = "retrained"  # same settings, code and data, but its run files differ
UNCHANGED = "unchanged"  # the same run files on the seeds both have (seeds may differ)
NOT_COMPARED = "not compared"  # a file of its runs in the history is missing or damaged


def flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys: {"train": {"subsample": 1}} -> {"train.subsample": 1}."""
    return {flat_key: flat_value for key, value in settings.items()
            for flat_key, flat_value in (flatten(value, f"{prefix}{key}.")
                                         if isinstance(value, Mapping)
                                         else {f"{prefix}{key}": value}).items()}


UNSET: Any = object()  # a setting one side does not have


@dataclass(frozen=True)
class SettingChange:
    """One flattened setting whose value differs (UNSET on a side that does not set it)."""

    key: str
    old: Any
    new: Any


@dataclass(frozen=True)
class CodeChange:
    """A file of the training code that differs: sha256 on each side (None: absent there)."""

    path: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class ModelChange:
    """One model, old against new. old_acc / new_acc: mean validation accuracy over the seeds
    compared when tested (new_acc - old_acc is its `diff`), else over each run's own seeds.
    comparison: for CHANGED and RETRAINED, a comparisons row (model_a NEW, model_b OLD)."""

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
    problem: str | None = None

    @property
    def verdict(self) -> str | None:
        return None if self.comparison is None else self.comparison["verdict"]


@dataclass(frozen=True)
class RunInfo:
    """Which run a side of a comparison is (id and time None: the current files)."""

    id: str | None
    time: str | None
    git_commit: str | None
    dirty: bool | None
    experiment: str | None

    @classmethod
    def of(cls, snapshot: Any) -> Self:  # a dlwpt.history.Snapshot
        return cls(*(getattr(snapshot, name) for name in cls.__dataclass_fields__))


@dataclass(frozen=True)
class Changes:
    """compare()'s answer (`first`: no old run): the new run's models, then the old's only."""

    old: RunInfo | None
    new: RunInfo
    first: bool
    data_changed: bool
    code: tuple[CodeChange, ...]
    models: tuple[ModelChange, ...]


def setting_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[SettingChange, ...]:
    old_flat, new_flat = flatten(old), flatten(new)
    changes = (SettingChange(k, old_flat.get(k, UNSET), new_flat.get(k, UNSET))
               for k in {**old_flat, **new_flat})
    return tuple(s for s in changes if s.old != s.new or type(s.old) is not type(s.new))
