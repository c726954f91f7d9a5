# Train: one job per (model, seed) on the cifar2 tensors, plus the thermometer experiments.
from dlwpt import runs


rule train_model:
    input:
        data="results/data/cifar2.pt",
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
        # The package code it runs, by digest (see code() in common.smk).
        **code("train_model.py"),
        # The run's settings from train: (dlwpt.runs.TRAIN_KEYS), each a param of its name.
        **runs.job_settings(config),
        # The model's own settings are params: changing them reruns this model only (a sweep
        # point's: its base model's entry with the point's values).
        hyperparameters=lambda w: runs.run_settings(config, w.model, SWEEPS),
        # Kept outside the declared outputs so Snakemake never deletes it on failure.
        resume_dir="results/.resume/{model}/seed{seed}",
    script:
        "../scripts/train_model.py"


rule fit_thermometer:
    output:
        "results/thermometer/{experiment}.json",
    log:
        "logs/fit_thermometer/{experiment}.log",
    benchmark:
        "benchmarks/fit_thermometer/{experiment}.tsv"
    conda:
        "../envs/dlwpt.yaml"
    params:
        **code("fit_thermometer.py"),
        experiment=lambda w: config["thermometer"]["experiments"][w.experiment],
        t_c=config["thermometer"]["t_c"],
        t_u=config["thermometer"]["t_u"],
    script:
        "../scripts/fit_thermometer.py"
