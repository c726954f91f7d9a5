# Ingest: raw files -> normalized tensor files + JSON summaries under results/data/.
# One rule over the configured datasets; scripts/ingest.py dispatches on the dataset.
rule ingest_dataset:
    input:
        raw=lambda w: raw(w.dataset),
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
        options=ingest_options,
        pinned=ingest_pins,
        raw_root=raw_root,
        raw=raw_names,
        content=raw_content,
        verify=config["data"]["verify"],
        record=ingest_record,
    script:
        "../scripts/ingest.py"
