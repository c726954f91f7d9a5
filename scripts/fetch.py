"""Snakemake entry point: download one file and verify its pinned checksum."""

import _bootstrap  # noqa: F401  (puts the repository on sys.path)

from dlwpt.download import fetch
from dlwpt.io import script_errors

with script_errors(snakemake.log[0]) as log:
    fetch(
        snakemake.params.url,
        snakemake.output[0],
        snakemake.params.checksum,
        retries=snakemake.params.retries,
        timeout=snakemake.params.timeout_s,
        backoff_s=snakemake.params.backoff_s,
        log=log,
    )
