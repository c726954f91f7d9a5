# Downloads (the default without a local copy): each raw file of the book's repository and
# CIFAR-10's archive, checked against a pinned checksum, retried, renamed into place when whole.


rule fetch_raw_file:
    output:
        "resources/{rel}",
    log:
        "logs/fetch_raw_file/{rel}.log",
    benchmark:
        "benchmarks/fetch_raw_file/{rel}.tsv"
    wildcard_constraints:
        rel="p1ch4/.+",
    # On a cluster, downloads run where Snakemake runs (compute nodes often have no network).
    localrule: True
    conda:
        "../envs/dlwpt.yaml"
    params:
        url=lambda w: sources.download_url(
            config["data"]["download"]["base_url"], w.rel
        ),
        checksum=lambda w: sources.manifest()[w.rel],
        retries=config["data"]["download"]["retries"],
        timeout_s=config["data"]["download"]["timeout_s"],
        backoff_s=config["data"]["download"]["backoff_s"],
    script:
        "../scripts/fetch.py"


rule fetch_cifar10:
    output:
        str(sources.CIFAR_ARCHIVE),
    log:
        "logs/fetch_cifar10.log",
    benchmark:
        "benchmarks/fetch_cifar10/all.tsv"
    localrule: True
    conda:
        "../envs/dlwpt.yaml"
    params:
        url=config["data"]["download"]["cifar10_url"],
        checksum=config["data"]["download"]["cifar10_checksum"],
        retries=config["data"]["download"]["retries"],
        timeout_s=config["data"]["download"]["timeout_s"],
        backoff_s=config["data"]["download"]["backoff_s"],
    script:
        "../scripts/fetch.py"
