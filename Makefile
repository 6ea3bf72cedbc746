# Two commands: `make demo` (install, then run the default workflow) and `make test`.
# Both create .venv if missing and install the pinned environment plus this package.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORES ?= all
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install demo test test-slurm lint bench clean

$(STAMP): pyproject.toml envs/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r envs/requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/snakemake --cores $(CORES)

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/snakefmt --check Snakefile workflow/
	$(VENV)/bin/snakemake --lint --cores 1

clean:
	rm -rf results logs benchmarks .snakemake
