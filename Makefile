# Two commands: `make demo` (install, then run the default workflow) and `make test`.
# Both create .venv if missing and install the pinned environment plus this package.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORES ?= all
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install demo test test-paper-mini test-slurm lint schema bench clean

$(STAMP): pyproject.toml envs/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r envs/requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/snakemake --cores $(CORES)
	$(VENV)/bin/snakemake --report results/report.html

test: install
	$(PY) -m pytest -q

# The paper-shaped miniature (config/paper-mini.yaml) end to end: every experiment kind, three
# architectures, replicates, every figure (a few minutes on 2 cores; CI runs it after `make test`).
test-paper-mini: install
	DNN_MANIFOLDS_TEST_PAPER_MINI=1 $(PY) -m pytest -q tests/test_paper_mini.py

# The SLURM profile against a real single-node cluster on localhost (needs root and apt).
test-slurm: install
	bash .ci/slurm-local-up.sh
	DNN_MANIFOLDS_TEST_SLURM=1 $(PY) -m pytest -q -m slurm tests/test_slurm.py; \
	  rc=$$?; bash .ci/slurm-local-down.sh; exit $$rc

lint: install
	$(VENV)/bin/ruff check --select F,E9 src tests bench
	$(VENV)/bin/snakefmt --check Snakefile workflow/
	$(VENV)/bin/snakemake --lint --cores 1

# Regenerate workflow/schemas/config.schema.yaml and the key table of config/README.md from
# src/dnn_manifolds/workflow/schema.py (a test fails when they are out of date).
schema: install
	$(PY) -c "from dnn_manifolds.workflow.schema import write_generated; print(*write_generated('.'), sep='\n')"

bench: install
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) bench/bench_capacity.py --jobs 2
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) bench/bench_geometry.py
	$(PY) bench/bench_generation.py

clean:
	rm -rf results logs benchmarks .snakemake
