"""The book's chapter-8 lessons, each as the comparison that tests it on our runs.

A claim is made of parts; each part is one test with an outcome:
- "supported": the difference goes the book's way and is significant;
- "not supported": it is significant the other way, or a stated threshold is missed;
- "inconclusive": no significant difference, one seed where the test needs the spread over
  seeds, or a model that diverged.
A claim is supported when every part is, not supported when any part is, inconclusive
otherwise. Validation comparisons are the deciding rows of comparisons.csv (Holm-adjusted);
training accuracy, train-val gap and epoch counts are compared by a paired t-test over seeds
(two-sided, p < 0.05 each, not adjusted across the claims' tests). Those figures are measured on
the training set, so only the seed-to-seed spread can tell a real difference from luck: with one
seed they are inconclusive, and so are seeds that all give the same difference (no spread: no
test). The fc claim's "training accuracy >= 0.99 on every seed" is a threshold, not a test: it
is decided on however many seeds ran, one included. A claim whose models are not all in the
configuration is left out.

Models are the book's zoo as config.yaml names them (net, width, l2, dropout, batch_norm,
depth, res, res_deep); "fully connected" and "conv" go by architecture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dlwpt.report.comparisons import ALPHA, outcome, pair_row, paired_t
from dlwpt.statistics import mean_interval

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
REFERENCE = "reference"  # a part shown beside a claim, not deciding it
FC_ARCH = "FullyConnected"
MEMORIZED = 0.99  # "reaches ~1.0": every seed's training accuracy at least this


@dataclass
class Part:
    """One test of a claim: what is compared, our estimate and 95% interval (None where there
    is none), the p-value, the outcome and why."""

    what: str
    outcome: str
    reason: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    p: float | None = None
    unit: str = "accuracy"  # accuracy | points | epochs
    holm: bool = False  # p is Holm-adjusted (a validation comparison of comparisons.csv)


@dataclass
class Claim:
    key: str
    statement: str
    test: str
    models: list[str]
    parts: list[Part] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """Supported when every deciding part is, not supported when any is not."""
        outcomes = [p.outcome for p in self.parts if p.outcome != REFERENCE]
        if outcomes and all(o == SUPPORTED for o in outcomes):
            return SUPPORTED
        return NOT_SUPPORTED if NOT_SUPPORTED in outcomes else INCONCLUSIVE


def validation_part(decisive: pd.DataFrame, better: str, worse: str, test: str) -> Part:
    """`better` beats `worse` on validation, as the deciding comparison says."""
    found = outcome(decisive, better, worse)
    row, flipped = pair_row(decisive, better, worse)
    part = Part(f"{better} − {worse}, validation accuracy", INCONCLUSIVE, "", unit="points",
                holm=True)
    if row is not None:
        part.value = -row["diff"] if flipped else row["diff"]
        part.p = None if pd.isna(row["p_adjusted"]) else float(row["p_adjusted"])
    if found == "better":
        part.outcome, part.reason = SUPPORTED, f"{better} significantly better ({test})"
    elif found == "worse":
        part.outcome, part.reason = NOT_SUPPORTED, f"{worse} significantly better ({test})"
    elif found == "tie":
        part.reason = f"no significant difference ({test})"
    elif found == "diverged":
        part.reason = "not compared: a diverged run"
    else:
        part.reason = row["verdict"] if row is not None else "not compared"
    return part


def seed_values(runs: pd.DataFrame, model: str, column: str) -> pd.Series:
    return runs[runs["model"] == model].set_index("seed")[column]


def paired_part(what: str, a: pd.Series, b: pd.Series, direction: int, unit: str,
                diverged: list[str]) -> Part:
    """Is a - b (per seed, paired) on the claimed side of zero (`direction` +1 or -1)?"""
    if diverged:
        return Part(what, INCONCLUSIVE, f"{' and '.join(diverged)} diverged", unit=unit)
    common = sorted(set(a.dropna().index) & set(b.dropna().index))
    d = np.array([a[s] - b[s] for s in common], dtype=float)
    if len(d) == 0:
        return Part(what, INCONCLUSIVE, "no seed in common", unit=unit)
    if len(d) == 1:
        return Part(what, INCONCLUSIVE, "one seed: the spread over seeds is unknown",
                    value=float(d[0]), unit=unit)
    mean, _, low, high = mean_interval(np.round(d, 12))
    p = paired_t(d)
    if np.isnan(p):
        return Part(what, INCONCLUSIVE, f"not tested: no spread over {len(d)} seeds (every "
                    "seed gives the same difference)", value=mean, unit=unit)
    part = Part(what, INCONCLUSIVE, f"no significant difference (paired t over {len(d)} seeds)",
                value=mean, low=low, high=high, p=p, unit=unit)
    if p < ALPHA:
        with_claim = np.sign(mean) == direction
        part.outcome = SUPPORTED if with_claim else NOT_SUPPORTED
        part.reason = (f"significant, {'as the book says' if with_claim else 'the other way'} "
                       f"(paired t over {len(d)} seeds)")
    return part


def epochs_to_reach(curve: pd.DataFrame, target: float) -> int:
    """The first epoch whose (running) training accuracy reaches `target`; a run that never
    does counts as one epoch past its end (it needed more than it had)."""
    reached = curve.loc[curve["train_acc"] >= target, "epoch"]
    return int(reached.min()) if len(reached) else int(curve["epoch"].max()) + 1


def book_claims(per_model: pd.DataFrame, runs: pd.DataFrame, curves: pd.DataFrame,
                decisive: pd.DataFrame, validation_test: str) -> list[Claim]:
    """Every claim whose models ran; `validation_test` names the deciding comparison."""
    present = set(per_model.index)
    diverged = {m for m in present if per_model.loc[m, "diverged_epochs"]}
    runs = runs.assign(gap=runs["train_acc"] - runs["val_acc"])
    claims: list[Claim] = []

    def bad(*models: str) -> list[str]:
        return [m for m in models if m in diverged]

    def has(*models: str) -> bool:
        return all(m in present for m in models)

    def paired(what: str, a: str, b: str, column: str, direction: int) -> Part:
        unit = "points" if column in ("train_acc", "gap") else "epochs"
        return paired_part(what, seed_values(runs, a, column), seed_values(runs, b, column),
                           direction, unit, bad(a, b))

    fc = [m for m in per_model.index if per_model.loc[m, "arch"] == FC_ARCH]
    conv = [m for m in per_model.index if per_model.loc[m, "arch"] != FC_ARCH]
    if fc and conv:
        claim = Claim(
            "fc", "Fully connected nets memorize the training set (training accuracy ≈ 1.0), "
            "yet every convolutional net beats them on validation.",
            f"Every seed of each fully connected net reaches a training accuracy of at least "
            f"{MEMORIZED} (a threshold, not a test: decided on however many seeds ran, one "
            f"included); and every (conv net, fully connected net) pair's validation "
            f"comparison favours the conv net ({validation_test}, Holm-adjusted p < {ALPHA}).",
            fc + conv)
        for m in fc:
            train = seed_values(runs, m, "train_acc")
            if bad(m):
                claim.parts.append(Part(f"{m}, training accuracy", INCONCLUSIVE,
                                        f"{m} diverged"))
                continue
            lowest = float(train.min())
            ok = lowest >= MEMORIZED
            claim.parts.append(Part(
                f"{m}, training accuracy (lowest seed)", SUPPORTED if ok else NOT_SUPPORTED,
                f"{'at least' if ok else 'below'} {MEMORIZED}", value=lowest))
        claim.parts += [validation_part(decisive, c, f, validation_test)
                        for c in conv for f in fc]
        claims.append(claim)
    if has("net", "width"):
        claims.append(Claim(
            "width", "More capacity overfits more: NetWidth (width) reaches a higher training "
            "accuracy and a larger train−validation gap than Net (net).",
            "Paired t-tests over seeds of width − net in training accuracy and in the gap "
            f"(train − validation accuracy), each two-sided at p < {ALPHA}; one seed: "
            "inconclusive.", ["net", "width"],
            [paired("width − net, training accuracy", "width", "net", "train_acc", +1),
             paired("width − net, train−val gap", "width", "net", "gap", +1)]))
    if has("net", "l2"):
        claims.append(Claim(
            "l2", "L2 regularization curbs overfitting: it narrows Net's train−validation gap.",
            "Paired t-test over seeds of the gap of l2 − net (same architecture, l2 adds the "
            f"L2 term), two-sided at p < {ALPHA}; one seed: inconclusive.", ["net", "l2"],
            [paired("l2 − net, train−val gap", "l2", "net", "gap", -1)]))
    if has("width", "dropout"):
        claims.append(Claim(
            "dropout", "Dropout curbs overfitting: it narrows NetWidth's train−validation gap.",
            "Paired t-test over seeds of the gap of dropout − width (NetDropout is NetWidth "
            f"with dropout), two-sided at p < {ALPHA}; one seed: inconclusive.",
            ["width", "dropout"],
            [paired("dropout − width, train−val gap", "dropout", "width", "gap", -1)]))
    if has("width", "batch_norm"):
        reach: dict[str, dict[int, int]] = {"width": {}, "batch_norm": {}}
        if not bad("width", "batch_norm"):
            for seed in sorted(set(curves.loc[curves["model"] == "width", "seed"])
                               & set(curves.loc[curves["model"] == "batch_norm", "seed"])):
                width = curves[(curves["model"] == "width") & (curves["seed"] == seed)]
                target = float(width.sort_values("epoch")["train_acc"].iloc[-1])
                reach["width"][seed] = epochs_to_reach(width, target)
                reach["batch_norm"][seed] = epochs_to_reach(
                    curves[(curves["model"] == "batch_norm") & (curves["seed"] == seed)], target)
        claims.append(Claim(
            "batch_norm", "Batch normalization speeds up training: NetBatchNorm (batch_norm) "
            "reaches NetWidth's final training accuracy in fewer epochs.",
            "Per seed, the target is width's training accuracy in its last epoch (metrics.csv, "
            "running accuracy); each model's count is the first epoch at which it reaches the "
            "target (never: one past its last epoch). Paired t-test over seeds of batch_norm − "
            f"width in epochs, two-sided at p < {ALPHA}; one seed: inconclusive.",
            ["width", "batch_norm"],
            [paired_part("batch_norm − width, epochs to width's final training accuracy",
                         pd.Series(reach["batch_norm"], dtype=float),
                         pd.Series(reach["width"], dtype=float), -1, "epochs",
                         bad("width", "batch_norm"))]))
    if has("depth", "res"):
        claims.append(Claim(
            "res", "A skip connection makes the deeper net easier to train: NetRes (res) "
            "reaches a higher training accuracy than NetDepth (depth), the same net without it.",
            f"Paired t-test over seeds of res − depth in training accuracy, two-sided at p < "
            f"{ALPHA}; one seed: inconclusive. The validation comparison ({validation_test}) "
            "is shown for reference and does not enter the verdict.", ["depth", "res"],
            [paired("res − depth, training accuracy", "res", "depth", "train_acc", +1)]))
        claims[-1].parts.append(reference(validation_part(decisive, "res", "depth",
                                                          validation_test)))
    if has("res", "res_deep"):
        row = per_model.loc["res_deep"]
        blocks = "" if pd.isna(row.n_blocks) else f"{int(row.n_blocks)} "
        shared = f", {row.resdeep_blocks} blocks" if isinstance(row.resdeep_blocks, str) else ""
        claims.append(Claim(
            "res_deep", f"Depth alone does not pay: NetRes (res) beats NetResDeep as configured "
            f"({blocks}ResBlocks{shared}) on validation; the book's NetResDeep has the lower "
            "validation accuracy.",
            f"The validation comparison of res and res_deep ({validation_test}, Holm-adjusted "
            f"p < {ALPHA}): supported when res is significantly better, not supported when "
            "res_deep is, inconclusive otherwise.", ["res", "res_deep"],
            [validation_part(decisive, "res", "res_deep", validation_test)]))
    return claims


def reference(part: Part) -> Part:
    """A part shown beside a claim but not deciding it."""
    part.what += " (for reference)"
    part.reason = f"not part of the verdict: {part.reason}"
    part.outcome = REFERENCE
    return part

