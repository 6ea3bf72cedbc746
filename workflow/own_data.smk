# A user's own data (MATLAB *_tuning.mat, .npy/.npz, netCDF) -> validated manifold dataset.


rule import_own_data:
    input:
        own_data_input,
    output:
        dataset="results/own/{name}/dataset.nc",
        info="results/own/{name}/info.json",
    log:
        "logs/own/{name}/import.log",
    params:
        variable=lookup(dpath="own_data/variable", within=config, default="tuning_function"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/import_own_data.py"
