"""Snakemake wrapper: train the demo CNN on the embedded stimuli, saving the untrained and the
final checkpoints. Input: ``stimuli``. Outputs: ``untrained``, ``trained``, ``log_json``.
Params: ``epochs``, ``seed``, ``device``, ``threads`` (torch's thread count: fixed by the config,
never the job's share of cores, so the checkpoints do not depend on ``--cores``)."""

from pathlib import Path

from dnn_manifolds.generation.training import train_demo_cnn
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "train_demo_cnn")
p = snakemake.params
paths = train_demo_cnn(
    Path(snakemake.output.trained).parent,
    stimuli_path=snakemake.input.stimuli,
    epochs=p.epochs,
    seed=p.seed,
    checkpoint_epochs=[0, p.epochs],
    threads=p.threads,
    device=p.device,
    progress=True,
)
log.info("checkpoints: %s", [str(x) for x in paths])
