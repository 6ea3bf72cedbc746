# dnn-manifolds: the Snakemake workflow. This file only loads the config and includes the rules;
# everything else lives in workflow/*.smk and the science in src/dnn_manifolds.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/common.smk"
include: "workflow/stimuli.smk"
include: "workflow/training.smk"
include: "workflow/generation.smk"
include: "workflow/analysis.smk"
include: "workflow/aggregate.smk"
include: "workflow/own_data.smk"


rule all:
    default_target: True
    input:
        all_targets(),
