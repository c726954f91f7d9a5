# The plan (dlwpt.plan: config and data sources checked once) and the functions rules share.
import os
import re
import sys

from snakemake.logging import logger
from snakemake.utils import min_version

min_version("9.0")

# The Snakefile imports the package from its own checkout (scripts do so via _bootstrap.py).
sys.path.insert(0, str(REPO))

from dlwpt import plan, rerun, sources  # noqa: E402
from dlwpt.code_inputs import (  # noqa: E402
    code_params,
    package_data,
    script_dependencies,
)
from dlwpt.ingest import ingest_module  # noqa: E402
from snakemake.exceptions import WorkflowError  # noqa: E402


def refuse(line):
    """Stop while the workflow is parsed, before any job, with one line (`config: ...`,
    `data: ...`, `run: ...`). Snakemake prints any exception raised here with its class, file
    and line around the message; SystemExit is the one it lets through unprinted. The line
    goes through Snakemake's logger, as its own errors do: on stderr (stdout in a dry run) and
    in the run's log file."""
    logger.error(line)
    sys.exit(1)


# A live run in this folder refuses a second one and --unlock (dlwpt.rerun); only in
# Snakemake's own process, not in its jobs, which parse the Snakefile again.
if not (workflow.remote_exec or workflow.subprocess_exec):
    _busy = rerun.claim(sys.argv, sys.executable, os.environ)
    if _busy:
        refuse(_busy)
try:
    PLAN = plan.prepare(config, REPO)
except plan.Refused as e:
    refuse(str(e))

DATASETS = PLAN.datasets
MODELS = PLAN.models
# Sweep points train as runs of their own: `sweeps/<sweep>/<point>`.
SWEEPS = PLAN.sweeps
SWEEP_RUNS = PLAN.sweep_runs
SEEDS = PLAN.seeds
EXPERIMENTS = PLAN.experiments
TRAIN_GPUS = PLAN.train_gpus()


wildcard_constraints:
    dataset="|".join(DATASETS) or "NONE",
    model="|".join(map(re.escape, PLAN.runs)) or "NONE",
    seed=r"\d+",
    experiment="|".join(EXPERIMENTS) or "NONE",


def code_files(*scripts, modules=(), data=()):
    """The files the jobs of `scripts` run that decide their outputs: each script, the modules
    it imports (transitively, read from its import statements; not dlwpt.code_inputs.PLUMBING),
    the modules it loads by computed name (`modules`, dotted), and every file of the
    package-data folders `data` (paths under dlwpt/) its modules read.
    """
    files = {REPO / "scripts" / s for s in scripts}
    for script in scripts:
        files.update(script_dependencies(REPO / "scripts" / script, REPO, modules))
    files.update(f for folder in data for f in package_data(REPO / "dlwpt" / folder))
    return sorted(files)


def code(*scripts, modules=(), data=()):
    """code_files as one param (`params: **code(...)`), `code`: {path: digest of its code
    without comments, docstrings or layout} (dlwpt.code_inputs.code_params; package data: of
    its bytes). A change to a file's code reruns exactly the jobs that run it, and the plan's
    reason prints the mapping before and now; an edited comment or docstring, or a touched or
    checked-out file, reruns nothing. Paths are relative to the checkout: a checkout moved or
    renamed plans no job for its code.

    A module Python cannot parse, or an import that names no module, stops the plan with one
    line, `code: <file>:<line>: <problem>` (a module this Snakefile imports itself fails
    earlier, in Snakemake's words).
    """
    try:
        return code_params(code_files(*scripts, modules=modules, data=data), REPO)
    except ValueError as e:
        logger.error(f"code: {e}")
        sys.exit(1)


def ingest_code():
    """code() of the script's imports plus each dataset's own module, which it loads by name:
    one param per file any dataset's job runs, the file's entry for the jobs that run it and
    None for the others."""
    per_dataset = {d: code("ingest.py", modules=[ingest_module(d)]) for d in DATASETS}
    names = sorted({name for params in per_dataset.values() for name in params})
    return {name: dataset_param(per_dataset.get, name) for name in names}


def dataset_param(params, name):
    """A param function: entry `name` of `params(dataset)` (a dict) for the job's dataset."""
    return lambda wildcards: params(wildcards.dataset).get(name)


def check_downloads_possible():
    """Without a local copy and without network, stop before any job with what is missing."""
    problem = PLAN.downloads_problem()
    if problem:
        raise WorkflowError(problem)


def report_params():
    """The report's params (dlwpt.plan), with the training code a recorded run names."""
    return PLAN.report_params(
        [os.path.relpath(f) for f in code_files("train_model.py")]
    )
