# Ingest: raw files -> normalized tensor files + JSON summaries under results/data/.
# One rule over the configured datasets; scripts/ingest.py dispatches on the dataset. The
# input and param functions are dlwpt.plan's.
# Cores Snakemake reserves for an ingest job (default 1). cifar2 decodes its images in a
# process pool of up to min(CPUs, 8) workers, so on a large machine it may use more.
INGEST_THREADS = {"cifar2": 2}


rule ingest_dataset:
    input:
        raw=lambda w: PLAN.raw(w.dataset),
    output:
        tensors="results/data/{dataset}.pt",
        summary="results/data/{dataset}.json",
    log:
        "logs/ingest_dataset/{dataset}.log",
    benchmark:
        "benchmarks/ingest_dataset/{dataset}.tsv"
    conda:
        "../envs/dlwpt.yaml"
    threads: lambda w: INGEST_THREADS.get(w.dataset, 1)
    params:
        **ingest_code(),
        options=lambda w: PLAN.ingest_options(w.dataset),
        pinned=lambda w: PLAN.ingest_pins(w.dataset),
        raw_root=lambda w: PLAN.raw_root(w.dataset),
        raw=lambda w: PLAN.raw_names(w.dataset),
        content=lambda w: PLAN.raw_content(w.dataset),
        verify=config["data"]["verify"],
        record=lambda w: PLAN.ingest_record(w.dataset),
    script:
        "../scripts/ingest.py"
