"""Snakemake entry point: put a complete new report in place of the published one."""

import _bootstrap  # noqa: F401  (puts the repository on sys.path)

from dlwpt.io import copy_atomic, script_errors

with script_errors(snakemake.log[0]) as log:
    # The page last: a failure part-way never leaves a new page beside the old tables.
    for key in ("csv", "comparisons", "html"):
        copy_atomic(snakemake.input[key], snakemake.output[key])
        log.info("published %s", snakemake.output[key])
