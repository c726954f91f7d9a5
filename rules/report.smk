# Report: every upstream artifact -> results/report.html (self-contained) + results/metrics.csv,
# with the figures also registered in Snakemake's own report (`snakemake --report ...`).


rule make_report:
    input:
        data=expand("results/data/{name}.{ext}", name=DATASETS, ext=["pt", "json"]),
        runs=train_outputs(),
        thermometer=expand(
            "results/thermometer/{experiment}.json", experiment=EXPERIMENTS
        ),
        benchmarks=upstream_benchmarks(),
        code=code("make_report.py", data=["report/templates"]),
    output:
        # Staged: Snakemake deletes a job's outputs before running it, so publish_report
        # replaces the published page only once a new one is complete.
        html="results/.report/report.html",
        csv="results/.report/metrics.csv",
        figures=report(
            directory("results/report_figures"),
            patterns=["{figure}.png"],
            category="Figures",
            labels={"figure": "{figure}"},
            caption="../report/figures.rst",
        ),
    log:
        "logs/make_report.log",
    benchmark:
        "benchmarks/make_report/all.tsv"
    conda:
        "../envs/dlwpt.yaml"
    params:
        # Everything the report reads besides its input files, so a change reruns it (and only
        # it, for book_accuracy): the script sees no config.
        datasets=DATASETS,
        trained_models=MODELS,
        seeds=SEEDS,
        models=list(config["models"]),
        experiments=EXPERIMENTS,
        book_accuracy=config.get("book_accuracy", {}),
        ingest_options={d: config["ingest"].get(d, {}) for d in DATASETS},
        config=config,  # the configuration as run, for the provenance section
    script:
        "../scripts/make_report.py"


rule publish_report:
    input:
        html="results/.report/report.html",
        csv="results/.report/metrics.csv",
        code=code("publish_report.py"),
    output:
        html=report(
            "results/report.html",
            category="Report",
            caption="../report/report.rst",
        ),
        csv=report(
            "results/metrics.csv",
            category="Models",
            caption="../report/metrics.rst",
        ),
    log:
        "logs/publish_report.log",
    benchmark:
        "benchmarks/publish_report/all.tsv"
    conda:
        "../envs/dlwpt.yaml"
    script:
        "../scripts/publish_report.py"
