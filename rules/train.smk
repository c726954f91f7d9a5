# Train: one job per (model, seed) on the cifar2 tensors, plus the thermometer experiments.


rule train_model:
    input:
        data="results/data/cifar2.pt",
        code=code("train_model.py"),
    output:
        model="results/train/{model}/seed{seed}/model.pt",
        metrics="results/train/{model}/seed{seed}/metrics.csv",
        summary="results/train/{model}/seed{seed}/summary.json",
        predictions="results/train/{model}/seed{seed}/val_predictions.csv",
        # Per-epoch scalars, flushed each epoch: `tensorboard --logdir results/tensorboard`.
        tensorboard=directory("results/tensorboard/{model}/seed{seed}"),
    log:
        "logs/train_model/{model}/seed{seed}.log",
    benchmark:
        "benchmarks/train_model/{model}/seed{seed}.tsv"
    conda:
        "../envs/dlwpt.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=TRAIN_GPUS,
    params:
        # The model's own settings are params: changing them reruns this model only.
        hyperparameters=lambda w: model_config(config, w.model),
        device=config["train"]["device"],
        gpus=config["train"]["gpus"],
        loop=config["train"]["loop"],
        cuda_graphs=config["train"]["cuda_graphs"],
        subsample=config["train"]["subsample"],
        checkpoint_every=config["train"]["checkpoint_every"],
        # Kept outside the declared outputs so Snakemake never deletes it on failure.
        resume_dir="results/.resume/{model}/seed{seed}",
    script:
        "../scripts/train_model.py"


rule fit_thermometer:
    input:
        code=code("fit_thermometer.py"),
    output:
        "results/thermometer/{experiment}.json",
    log:
        "logs/fit_thermometer/{experiment}.log",
    benchmark:
        "benchmarks/fit_thermometer/{experiment}.tsv"
    conda:
        "../envs/dlwpt.yaml"
    params:
        experiment=lambda w: config["thermometer"]["experiments"][w.experiment],
        t_c=config["thermometer"]["t_c"],
        t_u=config["thermometer"]["t_u"],
    script:
        "../scripts/fit_thermometer.py"
