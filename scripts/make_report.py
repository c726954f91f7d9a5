"""Snakemake entry point: aggregate every upstream artifact into the comparison report."""

from pathlib import Path

import _bootstrap

from dlwpt.io import script_errors
from dlwpt.provenance import provenance
from dlwpt.report import build_report

with script_errors(snakemake.log[0]):
    p = snakemake.params
    build_report(
        config=snakemake.config,
        data={
            name: {"pt": Path(f"results/data/{name}.pt"), "json": Path(f"results/data/{name}.json")}
            for name in p.datasets
        },
        runs=[
            {
                "model": model,
                "seed": seed,
                "summary": Path(f"results/train/{model}/seed{seed}/summary.json"),
                "metrics": Path(f"results/train/{model}/seed{seed}/metrics.csv"),
            }
            for model in p.models
            for seed in p.seeds
        ],
        thermometer=[Path(f) for f in snakemake.input.thermometer],
        benchmarks=[Path(f) for f in snakemake.input.benchmarks],
        out_html=Path(snakemake.output.html),
        out_csv=Path(snakemake.output.csv),
        provenance=provenance(snakemake.config, str(_bootstrap.REPO)),
        figures_dir=Path(snakemake.output.figures),
    )
