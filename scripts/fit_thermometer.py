"""Snakemake entry point: one of the book's thermometer experiments (chapters 5 and 6)."""

import _bootstrap  # noqa: F401  (puts the repository on sys.path)

from dlwpt.io import script_errors
from dlwpt.thermometer import run_experiment

with script_errors(snakemake.log[0]):
    run_experiment(
        snakemake.wildcards.experiment,
        snakemake.params.experiment,
        snakemake.params.t_c,
        snakemake.params.t_u,
        snakemake.output[0],
    )
