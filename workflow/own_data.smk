# A user's own data (MATLAB *_tuning.mat, .npy/.npz, netCDF, presentation x neuroid assemblies,
# feature matrices with labels) -> validated manifold dataset -> capacity and geometry of every
# session -> a tidy table.


rule import_own_data:
    input:
        unpack(own_data_input),
    output:
        dataset="results/own/{name}/dataset.nc",
        info="results/own/{name}/info.json",
    log:
        "logs/own/{name}/import.log",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        options=own_data_options,
    script:
        "../scripts/import_own_data.py"


rule own_capacity:
    input:
        "results/own/{name}/dataset.nc",
    output:
        "results/own/{name}/capacity.nc",
    log:
        "logs/own/{name}/capacity.log",
    benchmark:
        "benchmarks/own/{name}/capacity.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=120,
    params:
        analysis="capacity",
        seed=CFG.seeds["capacity"],
        options=CFG.capacity_options,
    script:
        "../scripts/own_analysis.py"


use rule own_capacity as own_geometry with:
    output:
        "results/own/{name}/geometry.nc",
    log:
        "logs/own/{name}/geometry.log",
    benchmark:
        "benchmarks/own/{name}/geometry.tsv"
    params:
        analysis="geometry",
        seed=CFG.seeds["geometry"],
        options=CFG.geometry_options_for("own"),


rule own_table:
    input:
        analyses=own_analysis_files,
    output:
        csv=report(
            "results/own/{name}/table.csv",
            caption="report/table.rst",
            category="Own data",
        ),
        nc="results/own/{name}/table.nc",
    log:
        "logs/own/{name}/table.log",
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/own_table.py"
