"""The page's first screen: what ran (and where it departs from the book's settings) and why a
claim's row says it is not supported; the winner line is the results section's headline."""

from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any

import pandas as pd

from dlwpt.report.formats import integer, seed_list
from dlwpt.runs import model_config

# Settings whose smaller value shortens a run (the book's run is longer, deeper or on more images)
SHORTENING = ("epochs", "n_blocks")
BOOK_IMAGES = 10_000  # CIFAR-2's training images: `train.subsample: null` trains on all of them


def departures(run: Mapping[str, Any] | None, book: Mapping[str, Any] | None,
               models: Sequence[str]) -> list[dict[str, Any]]:
    """Where the run's configuration departs from the book's (config.yaml), each as {words,
    short (a reduction in a few words, else None), models (those it touches; empty: all)}."""
    if not run or not book:
        return []
    out = []
    images, book_images = ((c.get("train") or {}).get("subsample") for c in (run, book))
    if images != book_images:
        shown = [f"{v:,}" if v else f"all {BOOK_IMAGES:,}" for v in (images, book_images)]
        short = bool(images) and (not book_images or images < book_images)
        out.append({"words": f"{shown[0]} training images instead of {shown[1]}",
                    "short": f"{shown[0]} training images" if short else None, "models": []})
    changed: dict[tuple[str, str, str], list[str]] = {}
    for model in models:
        if model not in (run.get("models") or {}) or model not in (book.get("models") or {}):
            continue
        ours, theirs = model_config(run, model), model_config(book, model)
        for key in sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k)):
            changed.setdefault((key, str(ours.get(key)), str(theirs.get(key))), []).append(model)
    for (key, ours, theirs), touched in changed.items():
        everyone = len(touched) == len(models)
        named = f"{ours} epochs" if key == "epochs" else f"{key} {ours}"
        words, short = f"{named} instead of {theirs}", None
        with suppress(ValueError):  # a setting that is not a number shortens nothing
            if key in SHORTENING and float(ours) < float(theirs):
                short = named
        out.append({"words": words if everyone else f"{', '.join(touched)}: {words}",
                    "short": short, "models": [] if everyone else touched})
    return out


def departure_line(found: Sequence[dict[str, Any]]) -> str | None:
    """`Shortened run: ...` (any reduction) or `Not the book's settings: ...`, or None."""
    if not found:
        return None
    lead = "Shortened run" if any(d["short"] for d in found) else "Not the book's settings"
    return (f"{lead}: " + "; ".join(d["words"] for d in found)
            + ". The book comparisons below are not a test of reproduction.")


def not_comparable(found: Sequence[dict[str, Any]], model: str, own: bool = False) -> str | None:
    """Why `model`'s figures cannot be set against the book's, or None; `own`: only its own
    departures (the run's are said once, at the top)."""
    words = [d["short"] or d["words"] for d in found
             if (not d["models"] and not own) or model in d["models"]]
    return "; ".join(words) or None


def what_ran(run_table: pd.DataFrame, provenance: Mapping[str, Any],
             found: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Models, seeds, epochs and training images of this run (its device, date and commit: the
    template reads them from the provenance)."""
    epochs = sorted({int(e) for e in run_table["epochs"].dropna()})
    images = ((provenance.get("config") or {}).get("train") or {}).get("subsample")
    return {
        "models": integer(run_table["model"].nunique()),
        "seeds": seed_list(sorted({int(s) for s in run_table["seed"]})),
        "epochs": ", ".join(map(str, epochs)) or "not recorded",
        "images": f"{images:,}" if images else f"all {BOOK_IMAGES:,}",
        "departures": departure_line(found),
    }


def shortened_by(claim: Any, found: Sequence[dict[str, Any]]) -> str | None:
    """For a claim not supported in a shortened run, the shortenings its deciding part comes
    from and that part's reason, without its parenthesis (the detail below has it)."""
    if claim.verdict != "not supported":
        return None
    named = set(claim.decisive[0].what.replace(",", " ").split())
    cause = [d["short"] for d in found
             if d["short"] and (not d["models"] or set(d["models"]) & named)]
    if not cause:
        return None
    return ", ".join(cause) + ": " + claim.decisive[0].reason.split(" (")[0]
