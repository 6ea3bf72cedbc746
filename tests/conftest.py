"""Shared test fixtures and helpers."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Keep numeric kernels single-threaded in tests: the CI machine has 2 cores and threaded BLAS on
# small matrices is slower, not faster.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# Pin the numerical kernels to one instruction set, so that results are bit-identical on any
# x86-64 machine with AVX2 (OpenBLAS, MKL, oneDNN and ATen otherwise pick kernels by CPU, and
# their roundings differ). The committed reference table of the miniature workflow
# (tests/data/reference/) was produced under these settings.
DETERMINISTIC_KERNELS = {
    "OPENBLAS_CORETYPE": "Haswell",
    "MKL_CBWR": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}


def snakemake_exe() -> str:
    exe = Path(sys.executable).with_name("snakemake")
    return str(exe) if exe.exists() else (shutil.which("snakemake") or "snakemake")


def run_snakemake(*args, cwd=REPO, check=True, timeout=1200, env=None):
    """Run the snakemake CLI on this repository's workflow; return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(DETERMINISTIC_KERNELS)
    full_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full_env.get('PATH', '')}"
    full_env.update(env or {})
    cmd = [snakemake_exe(), "--snakefile", str(REPO / "Snakefile"), *map(str, args)]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


@pytest.fixture
def workdir(tmp_path):
    """A scratch working directory holding a copy of config/ (snakemake --directory runs there)."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path
