"""The pipeline's report: one self-contained HTML page and results/metrics.csv (`build`)."""
