"""Snakemake wrapper: download the ImageNet 64px thumbnails file from figshare (resumable,
size- and checksum-verified). Output: the thumbnails file."""

from dnn_manifolds.generation.download import download_thumbnails
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "download_thumbnails")
path = download_thumbnails(snakemake.output[0], progress=True)
log.info("downloaded and verified %s", path)
