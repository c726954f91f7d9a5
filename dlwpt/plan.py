"""The workflow's plan, made once while the Snakefile is parsed: `prepare` checks all that can
be known before any job and refuses with one line (`Refused`), so a refused run deletes nothing."""

import functools
from pathlib import Path
from typing import Any

import yaml
from snakemake.utils import validate

from dlwpt import cifar10, runs, sources
from dlwpt.config import config_problem, in_listed_order, selected_models
from dlwpt.devices import requests_gpu, resolve_device
from dlwpt.download import reachable
from dlwpt.io import json_digest
from dlwpt.runs import TRAINED_FILES, Sweep, configured_sweeps, report_spec, run_name, sweep_runs

DATA_SETTINGS = ("data.local_dir / DLWPT_DATA: the folder holding p1ch4/, "
                 "data.cifar10 / DLWPT_CIFAR10: the CIFAR-10 copy")


class Refused(Exception):
    """A plan refused before any job: its message is the one line to print."""


def abridged(paths: list[Any], shown: int = 5) -> str:
    """The first few paths, and how many more: an error stays on one readable line."""
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(map(str, paths[:shown])) + more


def prepare(config: dict[str, Any], repo: Path) -> "Plan":
    """Check the config (then Snakemake's validation fills in its defaults) and data, and plan."""
    schema = repo / "schemas" / "config.schema.yaml"
    book = yaml.safe_load((repo / "config.yaml").read_text())  # the book's settings
    in_listed_order(config, book)
    if problem := config_problem(config, schema):
        raise Refused(f"config: {problem}")
    validate(config, str(schema))
    return Plan(config, book)


class Plan:
    """The jobs' inputs and params; made, it has checked the data copies (else `Refused`)."""

    def __init__(self, config: dict[str, Any], book: dict[str, Any]) -> None:
        self.config = config
        # What the page reads departures against: config.yaml's training images and models.
        self.book = {"train": {k: book.get("train", {}).get(k) for k in ("subsample", "defaults")},
                     "models": book.get("models")}
        self.datasets: list[str] = config["datasets"]
        # Training reads cifar2.pt: without cifar2 among the datasets no model is trained (the
        # report names them as not run) rather than planning jobs whose input nothing produces.
        trains = "cifar2" in self.datasets
        self.models: list[str] = selected_models(config) if trains else []
        self.sweeps: list[Sweep] = configured_sweeps(config) if trains else []
        self.sweep_runs = sweep_runs(self.sweeps)
        self.seeds: list[int] = config["train"]["seeds"]
        self.experiments = list(config["thermometer"]["experiments"])
        self.local_data = sources.data_root(config)
        cifar = self.cifar_source = sources.cifar_source(config)
        self.cifar_fingerprint: Any = None
        if missing := sources.missing_local_files(config, self.datasets):
            raise Refused(f"data: local data copy incomplete, missing: {abridged(missing)} "
                          f"(set {DATA_SETTINGS})")
        # The CIFAR-10 copy, checked before any job (a copy the ingest would refuse must not let
        # Snakemake delete a good cifar2.pt first) from the walk that fingerprints it.
        if "cifar2" in self.datasets and cifar.exists():
            self.cifar_fingerprint, names = cifar10.tree_survey(cifar)
            samples = (config["ingest"].get("cifar2") or {}).get("samples_per_class", 8)
            if problem := cifar10.check_source(
                    cifar, names, samples, checked=Path("results/.sources/complete-archives.json")):
                setting = sources.cifar_setting(config)
                raise Refused(f"data: {setting}={cifar}: {problem}" if setting else
                              f"data: {cifar}: {problem}; delete it to download it again")

    def train_gpus(self) -> int:
        """GPUs a training job asks for; its device is decided in the job: params stay alike."""
        train = self.config["train"]
        return int(requests_gpu(train["device"], train["request_gpu"],
                                lambda: resolve_device("auto") == "cuda"))

    @property
    def runs(self) -> list[str]:  # every training run's id
        return self.models + self.sweep_runs

    @functools.cache  # noqa: B019 (one plan per parse)
    def ingest(self, dataset: str) -> dict[str, Any]:
        """An ingest job's `input` (downloads only) and params. `raw_root` is a Path, which
        Snakemake does not compare; a local copy's `content` stands for its files (a copy
        elsewhere reruns nothing, a changed file does)."""
        options = dict(self.config["ingest"].get(dataset) or {})
        if dataset == "bikes":
            options.pop("file", None)  # it picks the raw input, a param of its own
        if "classes" in options:  # {class: label}, from the list in label order
            options["classes"] = {name: label for label, name in enumerate(options["classes"])}
        if dataset == "cifar2":  # the copy itself is the one raw "file"
            cifar, fingerprint = self.cifar_source, self.cifar_fingerprint
            download = cifar == sources.CIFAR_ARCHIVE
            return {"options": options, "input": [str(cifar)] if download else [], "pinned": {},
                    "raw_root": cifar, "raw": ["."], "content": None if download else fingerprint,
                    "record": {"source_fingerprint": fingerprint} if cifar.is_dir() else {}}
        pins, root = sources.manifest(), self.local_data or sources.RESOURCES
        files = sources.raw_files(dataset, self.config)
        return {
            "options": options, "record": {}, "raw_root": root,
            "raw": [p.relative_to(root).as_posix() for p in files],
            "input": [] if self.local_data else [str(f) for f in files],
            "pinned": {rel: pins[rel] for rel in sources.relative_files(dataset, self.config)},
            "content": sources.content_digest(files, self.local_data) if self.local_data else None}

    def downloads(self) -> dict[str, tuple[str, str]]:
        """What this run downloads: {path: (url, its fetch job's benchmark file)}."""
        download = self.config["data"]["download"]
        fetched = [] if self.local_data else [d for d in self.datasets if d != "cifar2"]
        planned = {str(sources.RESOURCES / rel): (download["base_url"],
                                                  f"benchmarks/fetch_raw_file/{rel}.tsv")
                   for dataset in fetched for rel in sources.relative_files(dataset, self.config)}
        if "cifar2" in self.datasets and self.cifar_source == sources.CIFAR_ARCHIVE:
            planned[str(self.cifar_source)] = (download["cifar10_url"],
                                               "benchmarks/fetch_cifar10/all.tsv")
        return planned

    def downloads_problem(self) -> str | None:
        """Without a local copy and without network: what is missing, before any job."""
        missing = {p: url for p, (url, _) in self.downloads().items() if not Path(p).exists()}
        if all(reachable(url) for url in set(missing.values())):
            return None
        return (f"no network to download {len(missing)} missing raw files "
                f"({abridged(list(missing), 3)}); point {DATA_SETTINGS}")

    def report_inputs(self) -> dict[str, Any]:
        """Datasets, runs (`<run>/seed<k>/<file>`, as the report looks them up), fits and every
        job's benchmark."""
        named = [run_name(run, seed) for run in self.runs for seed in self.seeds]
        return {
            **{f"data/{name}.{ext}": f"results/data/{name}.{ext}"
               for name in self.datasets for ext in ("pt", "json")},
            **{f"{run}/{name}": f"{runs.TRAIN_ROOT}/{run}/{name}"
               for run in named for name in TRAINED_FILES},
            "thermometer": [f"results/thermometer/{e}.json" for e in self.experiments],
            "benchmarks": [benchmark for _, benchmark in self.downloads().values()]
            + [f"benchmarks/ingest_dataset/{d}.tsv" for d in self.datasets]
            + [f"benchmarks/{runs.TRAIN_RULE}/{run}.tsv" for run in named]
            + [f"benchmarks/fit_thermometer/{e}.tsv" for e in self.experiments],
        }

    def report_params(self, train_code: list[str]) -> dict[str, Any]:
        """All the report reads besides its inputs, so a change reruns it; the config by its
        digest (keys in their order, as the page prints them), not printed in every `reason:`."""
        config = self.config
        return {
            "datasets": self.datasets, "trained_models": self.models,
            "sweep_runs": self.sweep_runs, "sweeps": report_spec(self.sweeps), "seeds": self.seeds,
            "configured_models": list(config["models"]), "experiments": self.experiments,
            "book_accuracy": config.get("book_accuracy", {}),
            "ingest_options": {d: config["ingest"].get(d, {}) for d in self.datasets},
            "config_digest": json_digest(config, sort_keys=False), "book_settings": self.book,
            "history": runs.HISTORY_ROOT, "train_code": train_code}
