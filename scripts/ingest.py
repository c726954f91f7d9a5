"""Snakemake entry point of the ingest rule: the `dataset` wildcard picks the ingest function."""

import _bootstrap  # noqa: F401  (puts the repository on sys.path)

from dlwpt.ingest import run_ingest
from dlwpt.io import script_errors

with script_errors(snakemake.log[0]) as log:
    dataset = snakemake.wildcards.dataset
    raw_files = list(snakemake.input.raw)
    log.info("%s: %d raw file(s)", dataset, len(raw_files))
    p = snakemake.params
    run_ingest(
        dataset,
        raw_files,
        snakemake.output.tensors,
        snakemake.output.summary,
        p.options,
        pinned=p.pinned,
        raw_root=p.raw_root,
        verify=p.verify,
        record=p.record,
        log=log,
    )
    log.info("wrote %s and %s", snakemake.output.tensors, snakemake.output.summary)
