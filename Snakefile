# dlwpt-pipeline: the data and training examples of "Deep Learning with PyTorch", part 1.
# raw files -> ingest -> tensor files -> train -> per-model artifacts -> report.
from pathlib import Path

REPO = Path(workflow.basedir)


# The defaults travel with the workflow; --configfile files are merged over them.
configfile: str(REPO / "config.yaml")


include: "rules/common.smk"
include: "rules/fetch.smk"
include: "rules/ingest.smk"
include: "rules/train.smk"
include: "rules/report.smk"


from dlwpt import estimate  # noqa: E402

# Over 200 training runs: their count, how to shrink them and their time, also in a dry run.
estimate.many_runs(workflow, config, logger, MODELS + SWEEP_RUNS, SWEEPS, TRAIN_GPUS)


# Before the first job (Snakemake calls onstart only when jobs will run, never in a dry run, and
# keeps one handler: this is the workflow's only one): without network and a local copy, stop
# (rules/common.smk); then one block, the plan's training runs and expected wall time on this
# machine, and results/.progress/plan.json for the jobs' "run: N% ..." lines (dlwpt.estimate).
onstart:
    check_downloads_possible()
    estimate.announce(workflow, config, logger, train_gpus=TRAIN_GPUS)


rule all:
    default_target: True
    input:
        "results/report.html",
        "results/metrics.csv",
        "results/comparisons.csv",
