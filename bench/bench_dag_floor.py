"""Snakemake's own cost per job in a dry run, on a synthetic workflow of N independent jobs.

The paper preset's dry run (``snakemake -n --configfile config/paper.yaml``, bench/README.md)
spends most of its time in Snakemake's per-job work, not in the workflow's functions. This
benchmark writes a throw-away Snakefile with ``--jobs`` jobs of one rule (each job one output
file with wildcards, all of them inputs of one target rule) and times ``snakemake -n --quiet
rules --cores 1`` on it, for rules shaped like:

- ``bare``: one static input, ``shell:``, nothing else;
- ``script``: + ``script:``, ``conda:``, ``log:``, ``benchmark:``, ``retries:``, constant
  ``threads`` and resources (what every job of this workflow has);
- ``callables``: + a params function and two resource functions of (wildcards, attempt)
  (``mem_mb``, ``runtime``), as the analysis and generation rules have.

The difference between shapes is the price of each directive; ``callables`` at 14 431 jobs is
the floor of the paper preset's dry run with its current job count (the paper's jobs also have
about six input files each, matched against the rules' outputs, which this one does not).

Usage::

    OMP_NUM_THREADS=1 python bench/bench_dag_floor.py --jobs 14431 --shapes bare script callables

Prints one line per shape: jobs, user and system CPU seconds, wall seconds, peak RSS (MB).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RULES = {
    "bare": """
rule work:
    input:
        "src.txt",
    output:
        "out/{i}.txt",
    shell:
        "cp {input} {output}"
""",
    "script": """
rule work:
    input:
        "src.txt",
    output:
        "out/{i}.txt",
    log:
        "logs/{i}.log",
    benchmark:
        "benchmarks/{i}.tsv"
    retries: 2
    conda:
        "env.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "work.py"
""",
    "callables": """
def job_params(wildcards):
    return {"i": int(wildcards.i), "name": f"job{wildcards.i}"}


def mem_mb(wildcards, attempt):
    return 1000 + int(wildcards.i) % 7 * attempt


def runtime(wildcards, attempt):
    return 10 * attempt


rule work:
    input:
        "src.txt",
    output:
        "out/{i}.txt",
    log:
        "logs/{i}.log",
    benchmark:
        "benchmarks/{i}.tsv"
    retries: 2
    conda:
        "env.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb,
        runtime=runtime,
    params:
        job=job_params,
    script:
        "work.py"
""",
}


def write_workflow(directory: Path, n_jobs: int, shape: str) -> None:
    """A Snakefile with ``n_jobs`` jobs of rule ``work`` (of ``shape``) and a target rule."""
    (directory / "src.txt").write_text("x\n")
    (directory / "work.py").write_text("open(snakemake.output[0], 'w').write('x')\n")
    (directory / "env.yaml").write_text("channels: [conda-forge]\ndependencies: [python]\n")
    (directory / "Snakefile").write_text(
        f'wildcard_constraints:\n    i=r"[0-9]+",\n\n\nrule all:\n    input:\n'
        f'        expand("out/{{i}}.txt", i=range({n_jobs})),\n\n' + RULES[shape]
    )


def time_dry_run(directory: Path) -> dict[str, float]:
    """CPU (user, system) and wall seconds and peak RSS of one ``snakemake -n`` in ``directory``."""
    snakemake = shutil.which("snakemake") or str(Path(sys.executable).with_name("snakemake"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [snakemake, "-n", "--quiet", "rules", "--cores", "1", "--directory", str(directory),
         "-s", str(directory / "Snakefile")],
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout + proc.stderr)
    return {
        "user": after.ru_utime - before.ru_utime,
        "sys": after.ru_stime - before.ru_stime,
        "wall": wall,
        "rss_mb": after.ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=14431, help="jobs of rule work (default: the paper preset's job count)")
    parser.add_argument("--shapes", nargs="+", default=list(RULES), choices=list(RULES))
    args = parser.parse_args(argv)
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be >= 1, got {args.jobs}")
    for shape in args.shapes:
        with tempfile.TemporaryDirectory() as tmp:
            write_workflow(Path(tmp), args.jobs, shape)
            t = time_dry_run(Path(tmp))
        print(f"{shape:10s} jobs {args.jobs + 1:6d}  user {t['user']:6.1f} s  sys {t['sys']:5.1f} s  "
              f"wall {t['wall']:6.1f} s  peak RSS {t['rss_mb']:6.0f} MB", flush=True)


if __name__ == "__main__":
    main()
