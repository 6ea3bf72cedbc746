# Stimuli: the embedded offline set (default), the ImageNet 64px thumbnails (downloaded), or
# the user's own images converted to the same layout.

if CFG.stimuli_source == "images":

    rule image_stimuli:
        input:
            CFG.image_files,
        output:
            CFG.stimuli_path,
        log:
            "logs/stimuli/images.log",
        conda:
            "../envs/pipeline.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            options=CFG.image_options,
        script:
            "../scripts/image_stimuli.py"

elif CFG.stimuli_source == "embedded":

    rule embedded_stimuli:
        output:
            CFG.stimuli_path,
        log:
            "logs/stimuli/embedded.log",
        conda:
            "../envs/pipeline.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            seed=CFG.seeds["stimuli"],
            n_categories=CFG.n_categories,
            n_exemplars=CFG.n_exemplars,
        script:
            "../scripts/embedded_stimuli.py"

else:

    rule download_thumbnails:
        output:
            CFG.stimuli_path,
        log:
            "logs/stimuli/download.log",
        retries: 2
        localrule: True
        conda:
            "../envs/pipeline.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=120,
        script:
            "../scripts/download_thumbnails.py"
