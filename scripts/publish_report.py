"""Snakemake entry point: put a complete new report in place of the published one, then record
the run in the history (dlwpt.history: a failure to record is a warning, never a failed job)."""

import _bootstrap

from dlwpt.history import record_published
from dlwpt.io import copy_atomic, script_errors
from dlwpt.results.reading import run_files

with script_errors(snakemake.log[0]) as log:
    # The page last: a failure part-way never leaves a new page beside the old tables.
    for key in ("csv", "comparisons", "html"):
        copy_atomic(snakemake.input[key], snakemake.output[key])
        log.info("published %s", snakemake.output[key])
    p = snakemake.params
    record_published(
        p.history,
        config=snakemake.config,
        runs=run_files(snakemake.input, p.trained_models, p.seeds),
        # training reads cifar2.pt
        data_pt=snakemake.input.get("data/cifar2.pt"),
        code_files=p.train_code,
        repo=_bootstrap.REPO,
        published={"metrics": snakemake.output.csv, "comparisons": snakemake.output.comparisons},
        log=log,
    )
