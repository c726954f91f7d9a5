"""Snakemake entry point: aggregate every upstream artifact into the comparison report.

Everything the report reads arrives as input: or params:, so Snakemake knows when the page is
out of date: a corrected book accuracy reruns this job only. The one exception is the whole
configuration as run (the provenance section, the history), read from snakemake.config: its
param is only its digest (config_digest), which reruns the report when it changes without
printing several KB of config in every plan's `reason:` line.
"""

from pathlib import Path

import _bootstrap

from dlwpt import history
from dlwpt.io import DataError, script_errors
from dlwpt.provenance import provenance
from dlwpt.report.build import build_report
from dlwpt.rerun import recorded_command
from dlwpt.results.reading import run_files


def changes_since_previous(p, data, runs, log):
    """What changed since the previous run in the history (read, not a declared input: it is
    the record of earlier runs, not an output this run depends on); a history that cannot be
    read is a note on the page and a warning, never a failed report."""
    try:
        current = history.Snapshot.from_files(
            config=snakemake.config,
            runs=runs,
            data_pt=data["cifar2"]["pt"] if "cifar2" in data else None,
            code_files=p.train_code,
            repo=_bootstrap.REPO,
        )
        return history.compare(history.previous(p.history, current), current), None
    # Never a failed report: a damaged history is a note on the page, and a damaged run file
    # is then refused by build_report with the command that rebuilds it.
    except Exception as e:
        kind = "" if isinstance(e, DataError | OSError) else f"{type(e).__name__}: "
        log.warning("run history not compared: %s%s", kind, e)
        return None, f"{kind}{e}"


with script_errors(snakemake.log[0]) as log:
    p = snakemake.params
    # The declared inputs, by name: `data/<name>.<ext>` per dataset, `<model>/seed<k>/<file>`
    # per run (rules/common.smk). load_runs checks every summary names its model and seed.
    data = {
        name: {ext: Path(snakemake.input[f"data/{name}.{ext}"]) for ext in ("pt", "json")}
        for name in p.datasets
    }
    runs = run_files(snakemake.input, p.trained_models, p.seeds)
    sweep_runs = run_files(snakemake.input, p.sweep_runs, p.seeds)
    changes, history_problem = changes_since_previous(p, data, runs, log)
    build_report(
        data=data,
        runs=runs,
        sweeps=p.sweeps,
        sweep_runs=sweep_runs,
        changes=changes,
        history_problem=history_problem,
        thermometer=[Path(f) for f in snakemake.input.thermometer],
        benchmarks=[Path(f) for f in snakemake.input.benchmarks],
        out_html=Path(snakemake.output.html),
        out_csv=Path(snakemake.output.csv),
        out_comparisons=Path(snakemake.output.comparisons),
        figures_dir=Path(snakemake.output.figures),
        provenance=provenance(snakemake.config, str(_bootstrap.REPO)),
        configured_models=p.configured_models,
        datasets=p.datasets,
        experiments=p.experiments,
        book_accuracy=p.book_accuracy,
        ingest_options=p.ingest_options,
        # The command of this run, set by rules/report.smk (not a param: see dlwpt.rerun).
        rerun_command=recorded_command(),
        # The book's settings, which the configuration as run is read against for departures.
        book_config=p.book_settings,
    )
