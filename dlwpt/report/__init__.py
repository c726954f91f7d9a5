"""The pipeline's report: one self-contained HTML page and results/metrics.csv."""

from dlwpt.report.build import build_report

__all__ = ["build_report"]
