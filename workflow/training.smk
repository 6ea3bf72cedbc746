# The compact demo CNN, trained on the embedded stimuli so the offline demo shows the effect of
# training (epoch 0 = untrained is saved too).


rule train_demo_cnn:
    input:
        stimuli=stimuli_file(),
    output:
        untrained="results/training/{network}/epoch000.pt",
        trained=f"results/training/{{network}}/epoch{CFG.demo_epochs:03d}.pt",
        log_json="results/training/{network}/training_log.json",
    log:
        "logs/training/{network}.log",
    benchmark:
        "benchmarks/training/{network}.tsv"
    priority: 1
    conda:
        "../envs/pipeline.yaml"
    threads: CFG.demo_threads
    resources:
        mem_mb=3000,
        runtime=60,
        gpu=GENERATION_GPUS,
    params:
        epochs=CFG.demo_epochs,
        seed=CFG.seeds["training"],
        device=CFG.device,
        threads=CFG.demo_threads,
    script:
        "../scripts/train_demo_cnn.py"
