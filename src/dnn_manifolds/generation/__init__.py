"""Stages 1–2 of the pipeline: stimuli, and object manifolds recorded through networks.

* :mod:`.stimuli` — the stimulus file layout and its lazy reader (the ImageNet thumbnails or
  the embedded set); :mod:`.embedded` — the embedded synthetic set; :mod:`.image_folder` — a
  user's images in the same layout; :mod:`.templates` — the original's template-choice rules;
  :mod:`.download` — the resumable, verified download;
* :mod:`.transforms` — the affine changes that trace smooth manifolds, and the warps;
* :mod:`.networks` — models, their analysed layers, unit subsets; :mod:`.user_models` —
  models by import path, timm, TorchScript; :mod:`.preprocessing` — input size, mean/std or a
  callable; :mod:`.recording` — the ``Network`` recorder (hooks, graph nodes, outputs);
  :mod:`.training` — the demo CNN; :mod:`.runtime` — device and thread settings;
* :mod:`.manifolds` — shards (objects × one transform, every layer); :mod:`.collect` —
  their collection into a manifold dataset.

Everything that needs PyTorch imports it inside the function that needs it, so the package
(and its analyses) import without it; install the ``generation`` extra to run these.
See ``docs/generation.
"""
