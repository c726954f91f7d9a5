"""Chapter 4, tabular data: the white-wine table, its normalization and the book's analysis
(per-quality-group means, and a one-column threshold predictor of "good" wine)."""

import math

import torch

from dlwpt.ingest.common import PathLike, read_table, write_outputs
from dlwpt.io import DataError

COLUMNS = [
    "fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides",
    "free sulfur dioxide", "total sulfur dioxide", "density", "pH", "sulphates", "alcohol",
    "quality",
]
N_QUALITY = 10  # quality scores 0..9: the width of the one-hot target


def ingest_wine(src: PathLike, out_pt: PathLike, out_json: PathLike, bad_max: int = 3,
                good_min: int = 7, threshold_column: str = "total sulfur dioxide",
                actual_good_above: int = 5) -> None:
    """The book's tensors and analysis; the analysis also goes to the JSON."""
    columns, array = read_table(src, ";", COLUMNS)  # so threshold_column (schema enum) is one
    table = torch.from_numpy(array)
    quality = table[:, -1]
    bad_rows = torch.nonzero((quality < 0) | (quality >= N_QUALITY) | (quality != quality.round()))
    if len(bad_rows):
        row = int(bad_rows[0])
        raise DataError(src, f"line {row + 2}: quality {quality[row].item():g} is not an "
                             f"integer in 0..{N_QUALITY - 1}")

    data = table[:, :-1]
    target = table[:, -1].long()
    target_onehot = torch.zeros(target.shape[0], N_QUALITY).scatter_(1, target.unsqueeze(1), 1.0)
    mean = data.mean(dim=0)
    var = data.var(dim=0)
    data_normalized = (data - mean) / torch.sqrt(var)

    groups = {"bad": target <= bad_max, "mid": (target > bad_max) & (target < good_min),
              "good": target >= good_min}
    group_means = torch.stack([table[rows].mean(dim=0) for rows in groups.values()])

    column = columns.index(threshold_column)
    threshold = group_means[1, column]
    predicted = table[:, column] < threshold
    actual = target > actual_good_above
    n_predicted, n_actual = int(predicted.sum()), int(actual.sum())
    n_matches = int((predicted & actual).sum())
    analysis = {
        # An empty group has NaN means: null in JSON, which has no NaN.
        "group_means": {name: {c: None if math.isnan(v) else v
                               for c, v in zip(columns, means.tolist(), strict=True)}
                        for name, means in zip(groups, group_means, strict=True)},
        "counts": {name: int(rows.sum()) for name, rows in groups.items()},
        "threshold": {
            "column": threshold_column, "threshold": threshold.item(),
            "n_predicted": n_predicted, "n_actual": n_actual, "n_matches": n_matches,
            "matches_over_predicted": n_matches / n_predicted if n_predicted else None,
            "matches_over_actual": n_matches / n_actual if n_actual else None,
        },
    }
    tensors = {"table": table, "columns": columns, "data": data, "target": target,
               "target_onehot": target_onehot, "data_normalized": data_normalized, "mean": mean,
               "var": var, "group_means": group_means}
    write_outputs("wine", out_pt, out_json, tensors, [src], analysis=analysis)
