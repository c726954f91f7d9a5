# Report: every upstream artifact -> results/report.html (self-contained), results/metrics.csv
# and results/comparisons.csv,
# with the figures also registered in Snakemake's own report (`snakemake --report ...`).
rule make_report:
    input:
        **PLAN.report_inputs(),
    output:
        # Staged: Snakemake deletes a job's outputs before running it, so publish_report
        # replaces the published page only once a new one is complete.
        html="results/.report/report.html",
        csv="results/.report/metrics.csv",
        comparisons="results/.report/comparisons.csv",
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
    # On a cluster, the report (seconds, after every training job) runs where Snakemake runs.
    localrule: True
    conda:
        "../envs/dlwpt.yaml"
    params:
        **report_params(),
        # The package code and templates it runs, by digest (see code() in common.smk).
        **code("make_report.py", data=["report/templates"]),
    script:
        "../scripts/make_report.py"


rule publish_report:
    input:
        # The report's own inputs and params too: Snakemake does not remake a missing staged
        # page for an up-to-date published one, so after a failed make_report the same
        # command must still see that the published page is stale (and fail again, not exit 0).
        **PLAN.report_inputs(),
        html="results/.report/report.html",
        csv="results/.report/metrics.csv",
        comparisons="results/.report/comparisons.csv",
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
        comparisons=report(
            "results/comparisons.csv",
            category="Models",
            caption="../report/comparisons.rst",
        ),
    log:
        "logs/publish_report.log",
    benchmark:
        "benchmarks/publish_report/all.tsv"
    localrule: True
    conda:
        "../envs/dlwpt.yaml"
    params:
        **report_params(),
        # make_report's code too (as its params above): after a code change that makes the
        # report fail, the same command must not find the published page up to date.
        **code("make_report.py", "publish_report.py", data=["report/templates"]),
    script:
        "../scripts/publish_report.py"
