"""Snakemake entry point of the ingest rule: the `dataset` wildcard picks the ingest function."""

from pathlib import Path

import _bootstrap  # noqa: F401  (puts the repository on sys.path)

from dlwpt.ingest import run_ingest
from dlwpt.io import script_errors

with script_errors(snakemake.log[0]) as log:
    dataset = snakemake.wildcards.dataset
    p = snakemake.params
    # From params, not input: a local copy's files are no inputs (the plan follows their
    # content, not their path).
    raw_files = [str(Path(p.raw_root, name)) for name in p.raw]
    log.info("%s: %d raw file(s)", dataset, len(raw_files))
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
