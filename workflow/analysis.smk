# Analysis jobs: one per (network, layer, transform) and analysis — the baseline capacity and
# geometry, and each experiment of the config — over every manifold set that the network
# records with that transform (dnn_manifolds.workflow.config.analysis_jobs). Each job reads
# the session "<layer>/<transform>" of each set's manifold dataset and writes one file with one
# group per set.


rule capacity:
    input:
        unpack(job_input("capacity")),
    output:
        "results/analysis/{network}/{layer}/{transform}/capacity.nc",
    log:
        "logs/capacity/{network}/{layer}/{transform}.log",
    benchmark:
        "benchmarks/capacity/{network}/{layer}/{transform}.tsv"
    retries: 2
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=job_resources("capacity", "capacity")[0],
        runtime=job_resources("capacity", "capacity")[1],
    params:
        job=job_params("capacity"),
    script:
        "../scripts/analysis_job.py"


rule geometry:
    input:
        unpack(job_input("geometry")),
    output:
        "results/analysis/{network}/{layer}/{transform}/geometry.nc",
    log:
        "logs/geometry/{network}/{layer}/{transform}.log",
    benchmark:
        "benchmarks/geometry/{network}/{layer}/{transform}.tsv"
    retries: 2
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=job_resources("geometry", "geometry")[0],
        runtime=job_resources("geometry", "geometry")[1],
    params:
        job=job_params("geometry"),
    script:
        "../scripts/analysis_job.py"


rule experiment:
    input:
        unpack(job_input()),
    output:
        "results/analysis/{network}/{layer}/{transform}/experiments/{experiment}.nc",
    log:
        "logs/experiments/{network}/{layer}/{transform}/{experiment}.log",
    benchmark:
        "benchmarks/experiments/{network}/{layer}/{transform}/{experiment}.tsv"
    retries: 2
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=job_resources("experiment")[0],
        runtime=job_resources("experiment")[1],
    params:
        job=job_params(),
    script:
        "../scripts/analysis_job.py"
