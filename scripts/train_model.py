"""Snakemake entry point: train one (model, seed) of the zoo."""

import _bootstrap  # noqa: F401  (puts the repository on sys.path)

from dlwpt.io import script_errors
from dlwpt.orphan import ParentWatch
from dlwpt.train import train_model

# ParentWatch: Snakemake killed (SIGKILL), this job stops within seconds (dlwpt/orphan.py).
with script_errors(snakemake.log[0]) as log, ParentWatch(log) as watch:
    p = snakemake.params
    train_model(
        snakemake.input.data,
        snakemake.output.model,
        snakemake.output.metrics,
        snakemake.output.summary,
        model_name=snakemake.wildcards.model,
        model_cfg=p.hyperparameters,
        seed=int(snakemake.wildcards.seed),
        device=p.device,
        gpus=p.gpus,
        loop=p.loop,
        cuda_graphs=p.cuda_graphs,
        threads=snakemake.threads,
        subsample=p.subsample,
        resume_dir=p.resume_dir,
        checkpoint_every=p.checkpoint_every,
        log=log,
        out_predictions=snakemake.output.predictions,
        tensorboard_dir=snakemake.output.tensorboard,
        watch=watch,
    )
