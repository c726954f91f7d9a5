"""The book's chapter-8 lessons as a table of claim specifications (CLAIMS), evaluated over
comparisons.csv (docs/statistics.md, "The book's claims"): a `compare` part reads the all_pairs
row for validation accuracy, the `claims` row for a training-set figure; a `threshold` part is
every seed at least a number, not a test. A group side: "fully connected" is arch FullyConnected,
"conv" any other."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dlwpt.report.formats import acc, missing
from dlwpt.report.trends import SweepResult, Trend
from dlwpt.report.verdicts import CURVE_WORDS, LABELS, difference_words, unit
from dlwpt.results import comparisons as c
from dlwpt.results.comparisons import ALPHA, EPOCHS_TO_TARGET, GAP, TRAIN_ACC, VAL_ACC

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
NOT_EVALUATED = "not evaluated"
REFERENCE = "reference"  # a part's outcome when it is shown beside a claim, not deciding it
COMPARE, THRESHOLD = "compare", "threshold"
FULLY_CONNECTED, CONV = "fully connected", "conv"
GROUPS = (FULLY_CONNECTED, CONV)
FC_ARCH = "FullyConnected"
TRAINING_QUANTITIES = (TRAIN_ACC, GAP, EPOCHS_TO_TARGET)
MEMORIZED = 0.99  # "reaches ~1.0": every seed's training accuracy at least this
FLIPPED = {c.A_BETTER: c.B_BETTER, c.B_BETTER: c.A_BETTER}  # a verdict code read as b against a


@dataclass(frozen=True)
class PartSpec:
    """One part of a claim: a against b (models or groups) on `quantity`, `direction` +1 (a
    above b) or -1 (a below b); for a threshold, a's every seed at least `threshold` (b None)."""

    a: str
    b: str | None
    quantity: str
    direction: int = +1
    rule: str = COMPARE
    reference: bool = False
    threshold: float | None = None


@dataclass(frozen=True)
class ClaimSpec:
    """`lesson`: a few words, for the first screen; `sweep`: (setting, figures) it cites."""

    key: str
    lesson: str
    statement: str | Callable[[pd.DataFrame], str]
    test: str
    models: tuple[str, ...]
    parts: tuple[PartSpec, ...]
    sweep: tuple[str, tuple[str, ...]] | None = None


@dataclass
class Part:
    """One evaluated part: a − b and its 95% interval in `unit` (a threshold: its lowest seed);
    p Holm-adjusted when `adjusted`; verdict_code oriented to this part (None: a threshold)."""

    what: str
    outcome: str
    reason: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    p: float | None = None
    unit: str = "points"
    adjusted: bool = False
    verdict_code: str | None = None


@dataclass
class Claim:
    """An evaluated claim; `reason`: why it was not evaluated (empty otherwise)."""

    key: str
    lesson: str
    statement: str
    test: str
    models: list[str]
    parts: list[Part] = field(default_factory=list)
    verdict: str = NOT_EVALUATED
    reason: str = ""
    sweeps: list[tuple[str, Trend]] = field(default_factory=list)  # (sweep, its trend)

    @property
    def decisive(self) -> list[Part]:
        """The parts that give the verdict (else every deciding part), for the first screen."""
        deciding = [p for p in self.parts if p.outcome != REFERENCE]
        return [p for p in deciding if p.outcome == self.verdict] or deciding


def res_deep_statement(per_model: pd.DataFrame) -> str:
    """NetResDeep as configured: its depth (ResBlocks) and whether they share weights."""
    row = per_model.loc["res_deep"] if "res_deep" in per_model.index else {}
    blocks = "" if missing(row.get("n_blocks")) else f"{int(row['n_blocks'])} "
    kind = row.get("resdeep_blocks")
    shared = f", {kind} blocks" if isinstance(kind, str) else ""
    return (f"Depth alone does not pay: NetRes (res) beats NetResDeep as configured ({blocks}"
            f"ResBlocks{shared}) on validation; the book's NetResDeep has the lower validation "
            "accuracy.")


PAIRED_T = (f"two-sided at p < {ALPHA}, not adjusted across the claims; one seed: "
            "inconclusive (only the spread over seeds can test a training-set figure)")
MATRIX = f"the matrix's verdict, p < {ALPHA} adjusted for all pairs"

CLAIMS: tuple[ClaimSpec, ...] = (
    ClaimSpec(
        "fc", "Fully connected nets memorize, conv nets generalize",
        "Fully connected nets memorize the training set (training accuracy ≈ 1.0), yet "
        "every convolutional net beats them on validation.",
        f"Every seed of each fully connected net that did not diverge reaches a training "
        f"accuracy of at least {MEMORIZED} (a threshold, not a test: decided on however many "
        f"seeds ran, one included); and every (conv net, fully connected net) pair's validation "
        f"comparison favours the conv net ({MATRIX}).",
        (FULLY_CONNECTED, CONV),
        (PartSpec(FULLY_CONNECTED, None, TRAIN_ACC, rule=THRESHOLD, threshold=MEMORIZED),
         PartSpec(CONV, FULLY_CONNECTED, VAL_ACC, +1))),
    ClaimSpec(
        "width", "More capacity overfits more",
        "More capacity overfits more: NetWidth (width) reaches a higher training "
        "accuracy and a larger train−validation gap than Net (net).",
        "width − net on the same seeds, in training accuracy, and in the gap (train − "
        "validation accuracy) over the seeds and the validation images, each "
        f"{PAIRED_T}.",
        ("net", "width"),
        (PartSpec("width", "net", TRAIN_ACC, +1), PartSpec("width", "net", GAP, +1)),
        sweep=("n_chans1", (TRAIN_ACC, GAP))),
    ClaimSpec(
        "l2", "L2 regularization narrows the gap",
        "L2 regularization curbs overfitting: it narrows Net's train−validation gap.",
        "The gap of l2 − net over the same seeds and the validation images (same "
        f"architecture, l2 adds the L2 term), {PAIRED_T}.",
        ("net", "l2"), (PartSpec("l2", "net", GAP, -1),), sweep=("l2", (GAP,))),
    ClaimSpec(
        "dropout", "Dropout narrows the gap",
        "Dropout curbs overfitting: it narrows NetWidth's train−validation gap.",
        "The gap of dropout − width over the same seeds and the validation images "
        f"(NetDropout is NetWidth with dropout), {PAIRED_T}.",
        ("width", "dropout"), (PartSpec("dropout", "width", GAP, -1),), sweep=("p", (GAP,))),
    ClaimSpec(
        "batch_norm", "Batch normalization trains faster",
        "Batch normalization speeds up training: NetBatchNorm (batch_norm) "
        "reaches NetWidth's final training accuracy in fewer epochs.",
        "Per seed, the target is width's training accuracy in its last epoch (metrics.csv, "
        "running accuracy); each model's count is the first epoch at which it reaches the "
        "target (never: one past its last epoch); batch_norm − width in epochs on the same "
        f"seeds, {PAIRED_T}.",
        ("width", "batch_norm"), (PartSpec("batch_norm", "width", EPOCHS_TO_TARGET, -1),)),
    ClaimSpec(
        "res", "A skip connection eases training",
        "A skip connection makes the deeper net easier to train: NetRes (res) reaches "
        "a higher training accuracy than NetDepth (depth), the same net without it.",
        f"res − depth in training accuracy on the same seeds, {PAIRED_T}. The "
        f"validation comparison ({MATRIX}) is shown for reference and does not enter the "
        "verdict.",
        ("depth", "res"),
        (PartSpec("res", "depth", TRAIN_ACC, +1),
         PartSpec("res", "depth", VAL_ACC, +1, reference=True))),
    ClaimSpec(
        "res_deep", "Depth alone does not pay",
        res_deep_statement,
        f"The validation comparison of res and res_deep ({MATRIX}): supported when res is "
        "significantly better, not supported when res_deep is, inconclusive otherwise.",
        ("res", "res_deep"), (PartSpec("res", "res_deep", VAL_ACC, +1),),
        sweep=("n_blocks", (VAL_ACC,))),
)

QUANTITY_LABELS = CURVE_WORDS | {GAP: "train−val gap"}


def members(side: str, per_model: pd.DataFrame) -> list[str]:
    """The models that ran on this side: a group's members (config order), or the model."""
    if side in GROUPS:
        return list(per_model.index[(per_model["arch"] == FC_ARCH) == (side == FULLY_CONNECTED)])
    return [side] if side in per_model.index else []


def pairs(part: PartSpec, per_model: pd.DataFrame) -> list[tuple[str, str]]:
    return [(a, b) for a in members(part.a, per_model)
            for b in members(part.b or "", per_model) if a != b]


def epochs_to_reach(curve: pd.DataFrame, target: float) -> int:
    """The first epoch whose (running) training accuracy reaches `target`; a run that never
    does counts as one epoch past its end (it needed more than it had)."""
    reached = curve.loc[curve["train_acc"] >= target, "epoch"]
    return int(reached.min()) if len(reached) else int(curve["epoch"].max()) + 1


def epochs_to_target(curves: pd.DataFrame, a: str,
                     b: str) -> tuple[dict[int, float], dict[int, float]]:
    """Per seed both ran: the epochs a and b take to reach b's last-epoch training accuracy."""
    if curves.empty:
        return {}, {}
    runs = {m: {int(s): run.sort_values("epoch") for s, run in
                curves[curves["model"] == m].groupby("seed")} for m in (a, b)}
    targets = {seed: float(runs[b][seed]["train_acc"].iloc[-1])
               for seed in sorted(set(runs[a]) & set(runs[b]))}
    reached = [{seed: float(epochs_to_reach(runs[m][seed], target))
                for seed, target in targets.items() if np.isfinite(target)} for m in (a, b)]
    return reached[0], reached[1]


def seed_values(run_table: pd.DataFrame, model: str, quantity: str) -> dict[int, float]:
    """A model's train_acc or gap per seed (seeds without one left out)."""
    runs = run_table[run_table["model"] == model]
    values = runs["train_acc"] if quantity == TRAIN_ACC else runs["train_acc"] - runs["val_acc"]
    return {int(s): float(v) for s, v in zip(runs["seed"], values, strict=True)
            if not missing(v) and np.isfinite(v)}


def training_figures(per_model: pd.DataFrame, run_table: pd.DataFrame,
                     curves: pd.DataFrame) -> list[c.SeedFigures]:
    """The per-seed figures behind compare_runs' `claims` rows: every `compare` part on a
    training-set quantity whose models ran, each (quantity, a, b) once."""
    out: dict[tuple[str, str, str], c.SeedFigures] = {}
    for spec in CLAIMS:
        for part in spec.parts:
            if part.rule != COMPARE or part.quantity not in TRAINING_QUANTITIES:
                continue
            for a, b in pairs(part, per_model):
                values = (epochs_to_target(curves, a, b) if part.quantity == EPOCHS_TO_TARGET
                          else [seed_values(run_table, m, part.quantity) for m in (a, b)])
                out.setdefault((part.quantity, a, b), c.SeedFigures(part.quantity, a, b, *values))
    return list(out.values())


def claim_verdict(outcomes: Sequence[str]) -> str:
    """Not supported if any deciding part is, else inconclusive if any is (or none decides)."""
    deciding = [o for o in outcomes if o != REFERENCE]
    if NOT_SUPPORTED in deciding:
        return NOT_SUPPORTED
    return INCONCLUSIVE if INCONCLUSIVE in deciding or not deciding else SUPPORTED


def evaluate_claims(table: pd.DataFrame, per_model: pd.DataFrame, run_table: pd.DataFrame,
                    configured: Sequence[str] | None = None,
                    sweeps: Sequence[SweepResult] = ()) -> list[Claim]:
    """Every claim of CLAIMS, in order, over compare_runs' comparisons. `configured` tells a
    model that is not configured from one that has not run (None: every configured one ran)."""
    claims = []
    for spec in CLAIMS:
        statement = spec.statement(per_model) if callable(spec.statement) else spec.statement
        models = [m for side in spec.models for m in members(side, per_model)]
        claim = Claim(spec.key, spec.lesson, statement, spec.test, models,
                      sweeps=sweep_citations(spec, sweeps))
        absent = [side for side in spec.models if not members(side, per_model)]
        if absent:
            claim.models = models if any(s in GROUPS for s in spec.models) else list(spec.models)
            claim.reason = "not evaluated: " + "; ".join(
                absence(side, configured) for side in absent)
        else:
            for part in spec.parts:
                claim.parts += ([threshold_part(part, m, run_table)
                                 for m in members(part.a, per_model)] if part.rule == THRESHOLD
                                else [compare_part(part, a, b, table)
                                      for a, b in pairs(part, per_model)])
            claim.verdict = claim_verdict([p.outcome for p in claim.parts])
        claims.append(claim)
    return claims


def sweep_citations(spec: ClaimSpec, sweeps: Sequence[SweepResult]) -> list[tuple[str, Trend]]:
    """The trends, on the claim's figures, of every sweep whose x axis is the claim's setting."""
    if spec.sweep is None:
        return []
    setting, quantities = spec.sweep
    return [(result.sweep.name, trend) for result in sweeps if result.sweep.x == setting
            for quantity in quantities
            for trend in result.trends if trend.curve == quantity]


def absence(side: str, configured: Sequence[str] | None) -> str:
    """Why a side is missing (a group's models are known by architecture only once they ran)."""
    if side in GROUPS:
        return f"no {side} model in this run"
    if configured is not None and side in configured:
        return f"model {side} has not run"
    return f"model {side} is not configured"


def number_or_none(value: object) -> float | None:
    return None if missing(value) else float(value)


def compare_part(spec: PartSpec, a: str, b: str, table: pd.DataFrame) -> Part:
    """a against b as the all_pairs (validation) or claims row says, whichever way round."""
    validation = spec.quantity == VAL_ACC
    label = QUANTITY_LABELS.get(spec.quantity, f"epochs to {b}'s final training accuracy")
    part = Part(f"{a} − {b}, {label}", INCONCLUSIVE,
                "not compared: comparisons.csv has no row for this pair",
                unit=unit(spec.quantity), adjusted=validation)
    rows = c.family_rows(table, c.ALL_PAIRS if validation else c.CLAIMS)
    row, flip = c.pair_row(rows[rows["quantity"] == spec.quantity], a, b)
    if row is not None:
        code = row["verdict"]
        code = part.verdict_code = FLIPPED.get(code, code) if flip else code
        diff, low, high = (number_or_none(row[k]) for k in ("diff", "diff_ci_low", "diff_ci_high"))
        part.value = None if diff is None else (-diff if flip else diff)
        if low is not None and high is not None:
            part.low, part.high = (-high, -low) if flip else (low, high)
        part.p = number_or_none(row["p_adjusted" if validation else "p_value"])
        if code in (c.A_BETTER, c.B_BETTER):
            claimed = (code == c.A_BETTER) == (spec.direction > 0)
            part.outcome = SUPPORTED if claimed else NOT_SUPPORTED
            part.reason = (f"significant, {'as claimed' if claimed else 'the other way'} "
                           f"({difference_words(row, flip, adjusted=False)})")
        elif code == c.NOT_DISTINGUISHABLE:
            part.reason = f"not distinguishable ({difference_words(row, flip, adjusted=False)})"
        else:
            part.reason = LABELS[code]
    if spec.reference:  # shown beside the claim, not deciding it
        part.what += " (for reference)"
        part.reason = f"not part of the verdict: {part.reason}"
        part.outcome = REFERENCE
    return part


def threshold_part(spec: PartSpec, model: str, run_table: pd.DataFrame) -> Part:
    """Every seed of `model` at least the threshold: not supported when one that did not
    diverge misses it, else inconclusive when one diverged. Not a test."""
    threshold = float(spec.threshold if spec.threshold is not None else np.nan)
    runs = run_table[run_table["model"] == model]
    diverged = runs["diverged_epoch"].notna().to_numpy(dtype=bool)
    values = pd.to_numeric(runs[spec.quantity], errors="coerce").to_numpy(dtype=float)
    seeds = runs["seed"].astype(int).to_numpy()
    kept = ~diverged & np.isfinite(values)
    part = Part(f"{model}, {QUANTITY_LABELS[spec.quantity]} (lowest seed)", INCONCLUSIVE, "",
                value=float(values[kept].min()) if kept.any() else None, unit="accuracy")
    missed = kept & (values < threshold)
    if missed.any():
        part.outcome = NOT_SUPPORTED
        part.reason = f"below {acc(threshold)} on " + joined_with_and(
            [f"seed {s} ({acc(v)})" for s, v in zip(seeds[missed], values[missed], strict=True)])
    elif diverged.any():
        part.reason = "not decided: a diverged run (" + joined_with_and(
            [f"seed {s}" for s in seeds[diverged]]) + ")"
    elif not kept.any() or not kept.all():
        part.reason = "not decided: a seed without a training accuracy"
    else:
        part.outcome = SUPPORTED
        part.reason = (f"at least {acc(threshold)} on every seed ({kept.sum()} "
                       f"seed{'s' if kept.sum() > 1 else ''})")
    return part


def joined_with_and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
