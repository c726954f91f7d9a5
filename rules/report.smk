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
        datasets=DATASETS,
        models=MODELS,
        seeds=SEEDS,
    script:
        "../scripts/make_report.py"
