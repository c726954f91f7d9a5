# Config validation, data-source resolution and input functions shared by every stage.
import functools
import os
import re
import sys

import yaml

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version, validate

min_version("9.0")

# The Snakefile imports the package from its own checkout (scripts do so via _bootstrap.py).
sys.path.insert(0, str(REPO))

from dlwpt import cifar10, sources, sweeps  # noqa: E402
from dlwpt.code_inputs import (  # noqa: E402
    code_params,
    package_data,
    script_dependencies,
)
from dlwpt.config import (  # noqa: E402
    class_labels,
    config_digest,
    config_problem,
    in_listed_order,
    selected_models,
)
from dlwpt.devices import requests_gpu, resolve_device  # noqa: E402
from dlwpt.runs import TRAINED_FILES  # noqa: E402
from dlwpt.ingest import ingest_module  # noqa: E402
from dlwpt.verify import content_digest, tree_survey  # noqa: E402

SCHEMA = REPO / "schemas" / "config.schema.yaml"


def refuse_config(problem):
    """Stop while the workflow is parsed, before any job, with one line: `config: <problem>`.

    Snakemake prints any exception raised here, whatever its type, with its class, file and
    line and a `File ...` line around the message (`WorkflowError in file ".../common.smk",
    line N:`); SystemExit is the one it lets through unprinted. The line goes through
    Snakemake's logger, as its own errors do: on stderr (stdout in a dry run, -n) and in the
    run's log file.
    """
    logger.error(f"config: {problem}")
    sys.exit(1)


# Models and experiments in config.yaml's order (Snakemake puts those a --configfile names first).
in_listed_order(config, yaml.safe_load((REPO / "config.yaml").read_text()))
# Strict, before any job (a refused config deletes nothing): one line naming the key; then
# Snakemake's own validation, which fills in the defaults.
_problem = config_problem(config, SCHEMA)
if _problem:
    refuse_config(_problem)
validate(config, str(SCHEMA))

DATASETS = config["datasets"]
# Training reads cifar2.pt: without cifar2 among the datasets no model is trained (the report
# names them as not run) rather than planning jobs whose input nothing produces.
MODELS = selected_models(config) if "cifar2" in DATASETS else []
# Sweep points (dlwpt.sweeps): runs of their own, `sweeps/<sweep>/<point>` in place of a model.
SWEEPS = sweeps.configured(config) if "cifar2" in DATASETS else []
SWEEP_RUNS = sweeps.runs(SWEEPS)
SEEDS = config["train"]["seeds"]
EXPERIMENTS = list(config["thermometer"]["experiments"])
# The device is decided in each training job (params stay the same on every host); whether a
# job asks for a GPU comes from settings (see train.request_gpu).
TRAIN_GPUS = int(
    requests_gpu(
        config["train"]["device"],
        config["train"]["request_gpu"],
        lambda: resolve_device("auto") == "cuda",
    )
)
LOCAL_DATA = sources.data_root(config)
CIFAR_SOURCE = sources.cifar_source(config)

DATA_SETTINGS = (
    "data.local_dir / DLWPT_DATA: the folder holding p1ch4/, "
    "data.cifar10 / DLWPT_CIFAR10: the CIFAR-10 copy"
)


def abridged(paths, shown=5):
    """The first few paths, and how many more: error messages stay on one readable line."""
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(map(str, paths[:shown])) + more


_missing = sources.missing_local_files(config, DATASETS)
if _missing:
    raise WorkflowError(
        f"local data copy incomplete, missing: {abridged(_missing)} (set {DATA_SETTINGS})"
    )


def refuse_source(problem):
    """As refuse_config, for a data source no ingest job could read: `data: <problem>`."""
    logger.error(f"data: {problem}")
    sys.exit(1)


# The CIFAR-10 copy, checked before any job (a copy the cifar2 ingest would refuse must not
# let Snakemake delete a good cifar2.pt first), from the walk that fingerprints it: the
# fingerprint stands for its content in the plan (see ingest_record). A downloaded archive is
# checked once there; a folder's check costs nothing beyond the walk.
CIFAR_FINGERPRINT = None
if "cifar2" in DATASETS and CIFAR_SOURCE.exists():
    CIFAR_FINGERPRINT, _names = tree_survey(CIFAR_SOURCE)
    _problem = cifar10.check_source(
        CIFAR_SOURCE,
        _names,
        (config["ingest"].get("cifar2") or {}).get("samples_per_class", 8),
        checked=Path("results/.sources/complete-archives.json"),
    )
    if _problem:
        _setting = sources.cifar_setting(config)
        refuse_source(
            f"{_setting}={CIFAR_SOURCE}: {_problem}"
            if _setting
            else f"{CIFAR_SOURCE}: {_problem}; delete it to download it again"
        )


wildcard_constraints:
    dataset="|".join(DATASETS) or "NONE",
    model="|".join(map(re.escape, MODELS + SWEEP_RUNS)) or "NONE",
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


def raw(dataset):
    """The raw files an ingest job reads that a job of this workflow downloads (so it runs
    first). A local copy's files are no inputs: the job depends on their content
    (`raw_content`), not on where they are, so an identical copy elsewhere plans no job.
    """
    if dataset == "cifar2":
        return [str(CIFAR_SOURCE)] if CIFAR_SOURCE == sources.CIFAR_ARCHIVE else []
    return [] if LOCAL_DATA else [str(p) for p in sources.raw_files(dataset, config)]


def raw_root(wildcards):
    """The folder the raw files are read from (CIFAR-10: the copy itself). A Path, which
    Snakemake does not compare between runs (it compares params of builtin types only), so
    where the data lies is no reason to rerun; `raw_names` and `raw_content` say what it is.
    """
    return Path(sources.raw_location(wildcards.dataset, config)[0])


def raw_names(wildcards):
    """The raw files relative to `raw_root`: the same for any copy of the data."""
    return sources.raw_location(wildcards.dataset, config)[1]


@functools.cache
def local_content(dataset):
    """What a local copy's files hold: their SHA-256 digests (about 40 ms for all of the
    book's files), or the CIFAR-10 copy's fingerprint. None for downloads (inputs instead).
    """
    if dataset == "cifar2":
        return CIFAR_FINGERPRINT if CIFAR_SOURCE != sources.CIFAR_ARCHIVE else None
    if not LOCAL_DATA:
        return None
    return content_digest(sources.raw_files(dataset, config), LOCAL_DATA)


def raw_content(wildcards):
    return local_content(wildcards.dataset)


# Cores Snakemake reserves for an ingest job (default 1). cifar2 decodes its images in a
# process pool of up to min(CPUs, 8) workers, so on a large machine it may use more.
INGEST_THREADS = {"cifar2": 2}


def ingest_code():
    """code() of the script's imports plus each dataset's own module, which it loads by name:
    one param per file any dataset's job runs, the file's entry for the jobs that run it and
    None for the others."""
    per_dataset = {d: code("ingest.py", modules=[ingest_module(d)]) for d in DATASETS}
    names = sorted({name for params in per_dataset.values() for name in params})
    return {name: _dataset_entry(per_dataset, name) for name in names}


def _dataset_entry(per_dataset, name):
    return lambda wildcards: per_dataset[wildcards.dataset].get(name)


def ingest_pins(wildcards):
    """SHA-256 pins of the dataset's raw files (CIFAR-10 has none: its archive is checked by
    the download, a local tree by its fingerprint)."""
    if wildcards.dataset == "cifar2":
        return {}
    pins = sources.manifest()
    return {rel: pins[rel] for rel in sources.relative_files(wildcards.dataset, config)}


def ingest_record(wildcards):
    """Extra summary keys that are also params: a changed, added or removed image in a local
    CIFAR-10 folder changes the fingerprint and so reruns the cifar2 ingest."""
    if wildcards.dataset == "cifar2" and CIFAR_SOURCE.is_dir():
        return {"source_fingerprint": CIFAR_FINGERPRINT}
    return {}


def ingest_options(wildcards):
    """Keyword arguments of the dataset's ingest function: its config section, as params so
    that editing it reruns this dataset only. bikes' `file` picks the raw input instead;
    cifar2's classes, a list in label order, reach the ingest as {class: label}.
    """
    options = dict(config["ingest"].get(wildcards.dataset) or {})
    if wildcards.dataset == "bikes":
        options.pop("file", None)
    if "classes" in options:
        options["classes"] = class_labels(options["classes"])
    return options


def run_inputs(models):
    """Per trained model (or sweep point), per seed: summary, metrics, model and validation
    predictions, each named `<model>/seed<k>/<file>` (the report looks every file up by that
    name: dlwpt.history.run_files). The report checks the last three against the digests the
    summary recorded when the run was trained; the predictions feed the paired comparisons.
    """
    return {
        f"{model}/seed{seed}/{name}": f"results/train/{model}/seed{seed}/{name}"
        for model in models
        for seed in SEEDS
        for name in TRAINED_FILES
    }


def downloads():
    """What this run downloads: {path: (url, its fetch job's benchmark file)}; nothing with a
    local copy (CIFAR-10: unless its copy is the downloaded archive)."""
    download = config["data"]["download"]
    planned = {}
    if not LOCAL_DATA:
        for dataset in DATASETS:
            if dataset != "cifar2":
                for rel in sources.relative_files(dataset, config):
                    planned[str(sources.RESOURCES / rel)] = (
                        download["base_url"],
                        f"benchmarks/fetch_raw_file/{rel}.tsv",
                    )
    if "cifar2" in DATASETS and CIFAR_SOURCE == sources.CIFAR_ARCHIVE:
        planned[str(CIFAR_SOURCE)] = (
            download["cifar10_url"],
            "benchmarks/fetch_cifar10/all.tsv",
        )
    return planned


def check_downloads_possible():
    """Without a local copy and without network, stop before any job with what is missing."""
    from dlwpt.download import reachable

    missing = {p: url for p, (url, _) in downloads().items() if not Path(p).exists()}
    if all(reachable(url) for url in set(missing.values())):
        return
    raise WorkflowError(
        f"no network to download {len(missing)} missing raw files "
        f"({abridged(list(missing), 3)}); point {DATA_SETTINGS}"
    )


def upstream_benchmarks():
    """Benchmark files of every job the report summarizes (downloads, ingest, train, fits)."""
    return (
        [benchmark for _, benchmark in downloads().values()]
        + expand("benchmarks/ingest_dataset/{dataset}.tsv", dataset=DATASETS)
        + expand(
            "benchmarks/train_model/{model}/seed{seed}.tsv",
            model=MODELS + SWEEP_RUNS,
            seed=SEEDS,
        )
        + expand("benchmarks/fit_thermometer/{experiment}.tsv", experiment=EXPERIMENTS)
    )


def report_inputs():
    """What the report summarizes: every ingested dataset (named `data/<name>.<ext>`), run
    (run_inputs), fit and upstream benchmark."""
    return {
        **{
            f"data/{name}.{ext}": f"results/data/{name}.{ext}"
            for name in DATASETS
            for ext in ("pt", "json")
        },
        **run_inputs(MODELS + SWEEP_RUNS),
        "thermometer": expand(
            "results/thermometer/{experiment}.json", experiment=EXPERIMENTS
        ),
        "benchmarks": upstream_benchmarks(),
    }


# The run history (dlwpt.history), appended to by publish_report: no rule declares it, so
# Snakemake never deletes it (`snakemake --delete-all-output` included).
HISTORY = "results/history"


def report_params():
    """Everything the report reads besides its input files, so a change reruns it (and only
    it, for book_accuracy); the whole configuration, which it reads as snakemake.config, by
    its digest."""
    return {
        "datasets": DATASETS,
        "trained_models": MODELS,
        "sweep_runs": SWEEP_RUNS,
        "sweeps": sweeps.report_spec(config, SWEEPS),
        "seeds": SEEDS,
        "configured_models": list(config["models"]),
        "experiments": EXPERIMENTS,
        "book_accuracy": config.get("book_accuracy", {}),
        "ingest_options": {d: config["ingest"].get(d, {}) for d in DATASETS},
        # The configuration as run (the provenance section, the history) is snakemake.config
        # in the scripts; its digest here reruns the report when it changes, without printing
        # the whole config in every plan's `reason:` line.
        "config_digest": config_digest(config),
        # The history: where it is, and the training code a recorded run names (what a
        # "code changed" between two runs compares).
        "history": HISTORY,
        "train_code": [os.path.relpath(f) for f in code_files("train_model.py")],
    }
