# One capacity job and one geometry job per (network, manifold set, layer, transform): each
# reads one session ("<layer>/<transform>") of the collected manifold dataset. One job per
# experiment (config key experiments) and session runs every variant of its grid.


rule capacity:
    input:
        "results/datasets/{network}/{manifold}.nc",
    output:
        "results/analysis/{network}/{manifold}/{layer}/{transform}/capacity.nc",
    log:
        "logs/capacity/{network}/{manifold}/{layer}/{transform}.log",
    benchmark:
        "benchmarks/capacity/{network}/{manifold}/{layer}/{transform}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=120,
    params:
        session="{layer}/{transform}",
        seed=CFG.seeds["capacity"],
        options=CFG.capacity_options,
    script:
        "../scripts/capacity.py"


rule geometry:
    input:
        "results/datasets/{network}/{manifold}.nc",
    output:
        "results/analysis/{network}/{manifold}/{layer}/{transform}/geometry.nc",
    log:
        "logs/geometry/{network}/{manifold}/{layer}/{transform}.log",
    benchmark:
        "benchmarks/geometry/{network}/{manifold}/{layer}/{transform}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        session="{layer}/{transform}",
        seed=CFG.seeds["geometry"],
        options=geometry_options,
    script:
        "../scripts/geometry.py"


rule experiment:
    input:
        unpack(experiment_input),
    output:
        "results/analysis/{network}/{manifold}/{layer}/{transform}/experiments/{experiment}.nc",
    log:
        "logs/experiments/{network}/{manifold}/{layer}/{transform}/{experiment}.log",
    benchmark:
        "benchmarks/experiments/{network}/{manifold}/{layer}/{transform}/{experiment}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=240,
    params:
        session="{layer}/{transform}",
        seed=experiment_seed,
        experiment=experiment_params,
    script:
        "../scripts/experiment.py"
