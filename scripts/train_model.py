"""Snakemake entry point: train one (model, seed) of the zoo.

dlwpt.train computes the run; what this job adds around it decides none of its outputs, and so
is passed in (dlwpt.code_inputs.PLUMBING): the GPU it claims, the watch that ends it when
Snakemake dies, its progress lines, its TensorBoard event files and the machine's load.
"""

import os

import _bootstrap  # noqa: F401  (puts the repository on sys.path)

from dlwpt.devices import claimed_device
from dlwpt.io import script_errors
from dlwpt.live import EpochLog
from dlwpt.orphan import ParentWatch
from dlwpt.progress import JobProgress
from dlwpt.train import Plumbing, RunSettings, train_model

# ParentWatch: Snakemake killed (SIGKILL), this job stops within seconds (dlwpt/orphan.py).
with script_errors(snakemake.log[0]) as log, ParentWatch(log) as watch:
    p = snakemake.params
    files = snakemake.output  # model, metrics, predictions, summary: as dlwpt.runs.RunFiles
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
    plumbing = Plumbing(
        epoch_log=lambda rows, walltimes: EpochLog(snakemake.output.tensorboard, rows, walltimes),
        on_epoch=JobProgress(run.model_name, run.seed, log),
        watch=watch,
        load=lambda: os.getloadavg()[0],  # the last minute's
    )
    with claimed_device(run.device, run.gpus, log) as (device, gpu):
        train_model(files, run, data=snakemake.input.data, resume=p.resume_dir, device=device,
                    gpu=gpu, log=log, plumbing=plumbing)
