# dnn-manifolds: the Snakemake workflow. This file only loads the config and includes the rules;
# everything else lives in workflow/*.smk and the science in src/dnn_manifolds.
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# The workflow runs the package of its own checkout: this process and every job (also inside
# `--sdm conda` environments, which hold the dependencies but not the package) import
# dnn_manifolds from src/ next to this Snakefile, so rules and code never disagree.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/common.smk"
include: "workflow/stimuli.smk"
include: "workflow/training.smk"
include: "workflow/generation.smk"
include: "workflow/analysis.smk"
include: "workflow/aggregate.smk"
include: "workflow/own_data.smk"


# Local runs: the analysis jobs run in children of one warm process that has imported the
# analysis libraries (config key warm_processes; dnn_manifolds.workflow.warm).
onstart:
    start_warm_process()


onsuccess:
    stop_warm_process()


onerror:
    stop_warm_process()


rule all:
    default_target: True
    input:
        all_targets(),
