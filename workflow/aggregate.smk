# Tidy tables, plots and contact sheets (the report's figures).


rule aggregate:
    input:
        analysis_files(),
    output:
        csv=report(
            "results/tables/results.csv",
            caption="report/table.rst",
            category="Tables",
        ),
        nc="results/tables/results.nc",
        summary="results/tables/summary.json",
    log:
        "logs/aggregate.log",
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        entries=analysis_entries(),
        seeds=CFG.seeds,
        config=CFG.raw,
    script:
        "../scripts/aggregate.py"


rule plots:
    input:
        table="results/tables/results.csv",
        capacity=analysis_files("capacity"),
    output:
        capacity=report(
            "results/plots/capacity_vs_layer.png",
            caption="report/capacity_vs_layer.rst",
            category="Capacity",
        ),
        geometry=report(
            "results/plots/geometry_vs_layer.png",
            caption="report/geometry_vs_layer.rst",
            category="Geometry",
        ),
        scatter=report(
            "results/plots/theory_vs_simulation.png",
            caption="report/theory_vs_simulation.rst",
            category="Capacity",
        ),
        curves=report(
            "results/plots/separability_curves.png",
            caption="report/separability_curves.rst",
            category="Capacity",
        ),
        pdfs=[
            "results/plots/capacity_vs_layer.pdf",
            "results/plots/geometry_vs_layer.pdf",
            "results/plots/theory_vs_simulation.pdf",
            "results/plots/separability_curves.pdf",
        ],
    log:
        "logs/plots.log",
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        entries=[e for e in analysis_entries() if e["experiment"] == "capacity"],
    script:
        "../scripts/plots.py"


rule contact_sheet:
    input:
        stimuli=stimuli_file(),
        dataset=contact_sheet_dataset,
    output:
        report(
            "results/plots/contact_sheets/{manifold}_{transform}.png",
            caption="report/contact_sheet.rst",
            category="Stimuli",
            labels={"manifold": "{manifold}", "transform": "{transform}"},
        ),
    log:
        "logs/contact_sheets/{manifold}_{transform}.log",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        sheet=contact_sheet_params,
    script:
        "../scripts/contact_sheet.py"
