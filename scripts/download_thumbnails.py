"""Snakemake wrapper: download the ImageNet 64px thumbnails file from figshare (resumable,
size- and checksum-verified). Output: the thumbnails file."""

from dnn_manifolds.joblog import job_logger
from dnn_manifolds.stimuli import download_thumbnails

log = job_logger(snakemake.log[0], "download_thumbnails")
path = download_thumbnails(snakemake.output[0], progress=True)
log.info("downloaded and verified %s", path)
