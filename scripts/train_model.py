"""Snakemake entry point: train one (model, seed) of the zoo."""

import _bootstrap  # noqa: F401  (puts the repository on sys.path)

from dlwpt.io import script_errors
from dlwpt.orphan import ParentWatch
from dlwpt.progress import PROGRESS_DIR
from dlwpt.train import RunFiles, RunSettings, train_model

# ParentWatch: Snakemake killed (SIGKILL), this job stops within seconds (dlwpt/orphan.py).
with script_errors(snakemake.log[0]) as log, ParentWatch(log) as watch:
    p = snakemake.params
    files = RunFiles(
        data=snakemake.input.data,
        model=snakemake.output.model,
        metrics=snakemake.output.metrics,
        summary=snakemake.output.summary,
        predictions=snakemake.output.predictions,
        tensorboard=snakemake.output.tensorboard,
        resume=p.resume_dir,
        progress=PROGRESS_DIR,
    )
    run = RunSettings(
        model_name=snakemake.wildcards.model,
        model_cfg=p.hyperparameters,
        seed=int(snakemake.wildcards.seed),
        device=p.device,
        gpus=p.gpus,
        loop=p.loop,
        cuda_graphs=p.cuda_graphs,
        threads=snakemake.threads,
        subsample=p.subsample,
        checkpoint_every=p.checkpoint_every,
    )
    train_model(files, run, log=log, watch=watch)
