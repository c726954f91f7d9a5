# Ingest: raw files -> normalized tensor files + JSON summaries under results/data/.
# One rule over the configured datasets; scripts/ingest.py dispatches on the dataset. The
# input and param functions are dlwpt.plan's.
# Cores Snakemake reserves for an ingest job (default 1). cifar2 decodes its images in a
# process pool of up to min(CPUs, 8) workers, so on a large machine it may use more.
INGEST_THREADS = {"cifar2": 2}


rule ingest_dataset:
    input:
        raw=dataset_param(PLAN.ingest, "input"),
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
        **{
            name: dataset_param(PLAN.ingest, name)
            for name in ("options", "pinned", "raw_root", "raw", "content", "record")
        },
        verify=config["data"]["verify"],
    script:
        "../scripts/ingest.py"
