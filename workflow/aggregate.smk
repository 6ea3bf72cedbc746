# Tidy tables, plots and contact sheets (the report's figures).


rule aggregate:
    input:
        analysis_files(),
    output:
        csv=report(
            "results/tables/results.csv",
            caption="report/table.rst",
            category="Tables",
            labels={"table": "results.csv (every row, to download)"},
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


rule browse_table:
    input:
        "results/tables/results.csv",
    output:
        report(
            "results/tables/results.html",
            caption="report/results_html.rst",
            category="Tables",
            labels={"table": "results (browse: sort, filter)"},
        ),
    log:
        "logs/browse_table.log",
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/browse_table.py"


# The figures of dnn_manifolds.report.catalogue.FIGURES, every one in every configuration (a
# figure without data in this configuration says so on its panel).
rule plots:
    input:
        table="results/tables/results.csv",
    output:
        png=[
            report(
                f"results/plots/{stem}.png",
                caption=FIGURE_SPECS[stem].caption,
                category=FIGURE_SPECS[stem].category,
                subcategory=FIGURE_SPECS[stem].subcategory,
                labels={"figure": FIGURE_SPECS[stem].title},
            )
            for stem in FIGURES
        ],
        pdf=[f"results/plots/{stem}.pdf" for stem in FIGURES],
    log:
        "logs/plots.log",
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        stems=list(FIGURES),
    script:
        "../scripts/plots.py"


# Separability curves f(n): one figure per (network, manifold set), from its capacity results.
rule separability_curves:
    input:
        separability_inputs,
    output:
        png=report(
            "results/plots/separability/{network}/{manifold}.png",
            caption="report/separability_curves.rst",
            category="Separability curves",
            subcategory="{network}",
            labels={"network": "{network}", "manifold set": "{manifold}"},
        ),
        pdf="results/plots/separability/{network}/{manifold}.pdf",
    log:
        "logs/separability/{network}/{manifold}.log",
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        entries=separability_entries,
    script:
        "../scripts/separability_curves.py"


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
