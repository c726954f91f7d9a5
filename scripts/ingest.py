"""Snakemake entry point of the ingest rule: the `dataset` wildcard picks the ingest function."""

import _bootstrap  # noqa: F401  (puts the repository on sys.path)

from dlwpt.ingest import ingester
from dlwpt.io import script_errors

with script_errors(snakemake.log[0]) as log:
    dataset = snakemake.wildcards.dataset
    ingest, takes_many = ingester(dataset)
    raw_files = list(snakemake.input.raw)
    log.info("%s: %d raw file(s)", dataset, len(raw_files))
    ingest(
        raw_files if takes_many else raw_files[0],
        snakemake.output.tensors,
        snakemake.output.summary,
        **snakemake.params.options,
    )
    log.info("wrote %s and %s", snakemake.output.tensors, snakemake.output.summary)
