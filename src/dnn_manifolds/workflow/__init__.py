"""What the Snakemake workflow needs from the package (the rules live in the repository's
``workflow/`` directory; this package never imports Snakemake).

* :mod:`.config` — the checked configuration and the job lists the DAG is built from;
* :mod:`.schema` — every configuration key's type, default and description, in one place;
  the JSON schema and the key table of ``config/README.md`` are generated from it;
* :mod:`.joblog` — one log file per job, progress bars included.
"""
