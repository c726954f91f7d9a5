# Ingest: raw files -> normalized tensor files + JSON summaries under results/data/.
# One rule per dataset; all of them run the same thin dispatcher, scripts/ingest.py.


rule ingest_image_dog:
    input:
        raw=raw("image_dog"),
        code=code("ingest/__init__.py", "ingest/common.py", "ingest/images.py"),
    output:
        **ingest_outputs("image_dog"),
    log:
        "logs/ingest_image_dog.log",
    benchmark:
        "benchmarks/ingest_image_dog/all.tsv"
    conda:
        "../envs/dlwpt.yaml"
    script:
        "../scripts/ingest.py"


rule ingest_image_cats:
    input:
        raw=raw("image_cats"),
        code=code("ingest/__init__.py", "ingest/common.py", "ingest/images.py"),
    output:
        **ingest_outputs("image_cats"),
    log:
        "logs/ingest_image_cats.log",
    benchmark:
        "benchmarks/ingest_image_cats/all.tsv"
    conda:
        "../envs/dlwpt.yaml"
    params:
        options=config["ingest"]["image_cats"],
    script:
        "../scripts/ingest.py"


rule ingest_ct:
    input:
        raw=raw("ct"),
        code=code("ingest/__init__.py", "ingest/common.py", "ingest/ct.py"),
    output:
        **ingest_outputs("ct"),
    log:
        "logs/ingest_ct.log",
    benchmark:
        "benchmarks/ingest_ct/all.tsv"
    conda:
        "../envs/dlwpt.yaml"
    script:
        "../scripts/ingest.py"


rule ingest_wine:
    input:
        raw=raw("wine"),
        code=code("ingest/__init__.py", "ingest/common.py", "ingest/wine.py"),
    output:
        **ingest_outputs("wine"),
    log:
        "logs/ingest_wine.log",
    benchmark:
        "benchmarks/ingest_wine/all.tsv"
    conda:
        "../envs/dlwpt.yaml"
    params:
        options=config["ingest"]["wine"],
    script:
        "../scripts/ingest.py"


rule ingest_bikes:
    input:
        raw=raw("bikes"),
        code=code("ingest/__init__.py", "ingest/common.py", "ingest/bikes.py"),
    output:
        **ingest_outputs("bikes"),
    log:
        "logs/ingest_bikes.log",
    benchmark:
        "benchmarks/ingest_bikes/all.tsv"
    conda:
        "../envs/dlwpt.yaml"
    params:
        options={"missing_hours": config["ingest"]["bikes"]["missing_hours"]},
    script:
        "../scripts/ingest.py"


rule ingest_text:
    input:
        raw=raw("text"),
        code=code("ingest/__init__.py", "ingest/common.py", "ingest/text.py"),
    output:
        **ingest_outputs("text"),
    log:
        "logs/ingest_text.log",
    benchmark:
        "benchmarks/ingest_text/all.tsv"
    conda:
        "../envs/dlwpt.yaml"
    params:
        options=config["ingest"]["text"],
    script:
        "../scripts/ingest.py"


rule ingest_cifar2:
    input:
        raw=[str(CIFAR_SOURCE)],
        code=code("ingest/__init__.py", "ingest/common.py", "ingest/cifar/"),
    output:
        **ingest_outputs("cifar2"),
    log:
        "logs/ingest_cifar2.log",
    benchmark:
        "benchmarks/ingest_cifar2/all.tsv"
    conda:
        "../envs/dlwpt.yaml"
    threads: 2
    params:
        options=config["ingest"]["cifar2"],
    script:
        "../scripts/ingest.py"
