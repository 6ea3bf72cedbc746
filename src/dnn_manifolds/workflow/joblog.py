"""Logging for workflow jobs: one log file per job, progress bars included.

:func:`job_logger` points the ``logging`` root and ``sys.stderr`` (where tqdm progress bars,
with rates and ETA, are written) at the job's log file, so a long job's progress can be
followed with ``tail -f logs/...``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path


def job_logger(log_path: str | os.PathLike, name: str) -> logging.Logger:
    """Send logging records and stderr to ``log_path`` (created, truncated); return a logger."""
    path = Path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stream = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    sys.stderr = stream
    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        force=True,
    )
    log = logging.getLogger(name)
    log.info("pid %d, started %s", os.getpid(), time.strftime("%Y-%m-%d %H:%M:%S"))
    return log
