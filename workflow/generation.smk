# Manifold generation: one job per shard (some objects x one transform, every layer), then one
# collect job per (network, manifold set) merging the shards into a manifold dataset.
# Generation (and the demo CNN's training) has priority 1: a local run starts the chains
# that the analyses wait for first, instead of the analyses of the datasets that exist.


rule generate_shard:
    input:
        stimuli=stimuli_file(),
        weights=GENERATION_WEIGHTS,
        model=GENERATION_MODEL,
    output:
        temp("results/shards/{network}/{manifold}/{shard}.nc"),
    log:
        "logs/generate/{network}/{manifold}/{shard}.log",
    benchmark:
        "benchmarks/generate/{network}/{manifold}/{shard}.tsv"
    priority: 1
    retries: 2
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=job_resources("generate_shard")[0],
        runtime=job_resources("generate_shard")[1],
        gpu=GENERATION_GPUS,
    params:
        shard=shard_params,
    script:
        "../scripts/generate_shard.py"


rule collect:
    input:
        shard_files,
    output:
        "results/datasets/{network}/{manifold}.nc",
    log:
        "logs/collect/{network}/{manifold}.log",
    benchmark:
        "benchmarks/collect/{network}/{manifold}.tsv"
    priority: 1
    retries: 2
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=job_resources("collect")[0],
        runtime=job_resources("collect")[1],
    script:
        "../scripts/collect.py"
