"""Generation subcommands: stimuli, networks' layers, manifold shards, the demo CNN, contact sheets.

::

    dnn-manifolds stimuli make OUT.h5 [--seed N] [--n-categories C] [--n-exemplars E]
    dnn-manifolds stimuli download OUT [--url U --md5 M --sha256 S --size B] [--retries R] [--quiet]
    dnn-manifolds stimuli from-images IMAGES OUT.h5 [--fit object] [--crop center] [--background border]
    dnn-manifolds stimuli info IN
    dnn-manifolds layers NETWORK [--layer-set {default,all}] [--modules] [--kwargs JSON] [--input-size N]
    dnn-manifolds generate STIMULI OUT.nc --network NET --transform T --n-objects P [...]
    dnn-manifolds collect SHARD.nc [SHARD.nc ...] OUT.nc
    dnn-manifolds train-demo STIMULI OUT_DIR [--epochs E] [--seed N] [...]
    dnn-manifolds contact-sheet STIMULI OUT.png --image I --transform T --range-factor R [...]

These need PyTorch (the ``generation`` extra), imported only when one of them runs.
"""

from __future__ import annotations

import json

from ..errors import UserError
from .common import add_quiet, add_seed, check_output, json_mapping, non_negative_int, positive_int, seed_int


def _stimuli_make(a) -> int:
    from ..generation.embedded import make_embedded_stimuli

    print(make_embedded_stimuli(a.output, seed=a.seed, n_categories=a.n_categories, n_exemplars=a.n_exemplars))
    return 0


def _stimuli_download(a) -> int:
    from ..generation.download import download_thumbnails

    print(
        download_thumbnails(
            a.output, url=a.url, md5=a.md5, sha256=a.sha256, size=a.size, retries=a.retries, progress=not a.quiet
        )
    )
    return 0


def _stimuli_from_images(a) -> int:
    from ..generation.image_folder import check_images, image_stimuli, list_images

    check_output(a.output, a.input)
    listing = list_images(a.input)
    width, height = check_images(listing)
    background = a.background
    if background not in ("border", "edge", "reflect"):
        parts = [int(v) for v in background.split(",")] if background.replace(",", "").isdigit() else None
        background = parts[0] if parts and len(parts) == 1 else parts if parts else background
    out = image_stimuli(a.input, a.output, fit=a.fit, crop=a.crop, background=background, progress=not a.quiet)
    if not a.quiet:
        counts = listing.counts
        print(f"{len(listing.files)} images of {width}×{height} px, {len(counts)} objects "
              f"({min(counts.values())}–{max(counts.values())} images each, layout {listing.layout})"
              + (f"; skipped {len(listing.skipped)} non-image files" if listing.skipped else ""))
    print(out)
    return 0


def _stimuli_info(a) -> int:
    from ..generation.stimuli import StimulusSet

    with StimulusSet(a.input) as s:
        info = {
            "path": str(s.path),
            "kind": s.kind,
            "n_images": s.n_images,
            "image_size": s.image_size,
            "n_categories": int(s.categories.size),
            "attrs": dict(s.attrs.items()),
        }
    print(json.dumps(info, indent=2, default=str))
    return 0


def _preprocessing(a) -> dict:
    """The preprocessing flags as a mapping (only those given)."""
    out = {"input_size": a.input_size, "mean": a.mean, "std": a.std, "interpolation": a.interpolation,
           "function": a.preprocess}
    return {k: v for k, v in out.items() if v is not None}


def _layers(a) -> int:
    from ..generation.networks import network_layers
    from ..generation.user_models import is_user_model

    if is_user_model(a.network):
        return _user_layers(a)
    if a.kwargs:
        raise UserError("--kwargs is for user models (an import path, timm:<name> or torchscript:<file>)")
    for layer in network_layers(a.network, layer_set=a.layer_set):
        if a.modules:
            call = f" ({layer.kind}, call {layer.call})" if layer.kind == "input" or layer.call else ""
            print(f"{layer.slug}\t{layer.module or '-'}{call}")
        else:
            print(layer.slug)
    return 0


def _user_layers(a) -> int:
    import numpy as np

    from ..generation.networks import N_UNITS
    from ..generation.recording import Network

    net = Network(a.network, weights=a.weights, model_kwargs=a.kwargs, weights_prefix=a.weights_prefix,
                  preprocessing=_preprocessing(a), layer_set=a.layer_set)
    kinds = {"pixels": "64×64 grayscale image", "output": "module output", "node": "graph node",
             "model": "model output"}
    shapes = net.layer_shapes()
    print(f"# {a.network}: {len(net.default_layers)} layers by default, {len(net.layers)} recordable "
          f"(input {net.input_size}×{net.input_size}; names or slugs both work in a config)")
    if net.catalogue.graph_error and not a.quiet:
        print(f"# graph nodes not listed: {net.catalogue.graph_error}")
    print("# slug\tname\tkind\tshape\tunits recorded")
    for layer in net.default_layers:
        shape = shapes[layer.slug]
        units = min(int(np.prod(shape)), N_UNITS)
        call = f", call {layer.call}" if layer.call else ""
        print(f"{layer.slug}\t{layer.name or '-'}\t{kinds.get(layer.kind, layer.kind)}{call}\t"
              f"{'×'.join(map(str, shape))}\t{units}")
    return 0


def _generate(a) -> int:
    from ..generation.manifolds import generate_shard

    check_output(a.output, a.stimuli)
    weights = None if not a.weights else a.weights[0] if len(a.weights) == 1 else a.weights
    print(
        generate_shard(
            a.output,
            stimuli_path=a.stimuli,
            network=a.network,
            weights=weights,
            weights_path=a.weights_path,
            model_kwargs=a.kwargs,
            weights_prefix=a.weights_prefix,
            preprocessing=_preprocessing(a),
            layers=a.layers,
            layer_set=a.layer_set,
            manifold_kind=a.kind,
            transform=a.transform,
            n_objects=a.n_objects,
            objects=a.objects,
            n_samples=a.n_samples,
            range_factor=a.range_factor,
            seed=a.seed,
            objects_seed=a.objects_seed,
            neuron_seed=a.neuron_seed,
            init_seed=a.init_seed,
            top_fraction=a.top_fraction,
            max_units=a.max_units,
            device=a.device,
            batch_size=a.batch_size,
            threads=a.threads,
            progress=not a.quiet,
        )
    )
    return 0


def _collect(a) -> int:
    from ..generation.collect import collect_shards

    check_output(a.output, *a.shards)
    print(collect_shards(a.shards, a.output))
    return 0


def _train_demo(a) -> int:
    from ..generation.training import train_demo_cnn

    paths = train_demo_cnn(
        a.output,
        stimuli_path=a.stimuli,
        epochs=a.epochs,
        seed=a.seed,
        batch_size=a.batch_size,
        learning_rate=a.learning_rate,
        threads=a.threads,
        progress=not a.quiet,
    )
    for path in paths:
        print(path)
    return 0


def _contact_sheet(a) -> int:
    from ..report.contact_sheet import manifold_contact_sheet

    check_output(a.output, a.stimuli)
    print(
        manifold_contact_sheet(
            a.output,
            stimuli_path=a.stimuli,
            image_index=a.image,
            transform=a.transform,
            range_factor=a.range_factor,
            n_samples=a.n_samples,
            seed=a.seed,
        )
    )
    return 0


NETWORK_HELP = ("alexnet, vgg16, resnet50, democnn, a torchvision model name, or your own model: "
                "'package.module:factory', 'file.py:factory', 'timm:<name>', 'torchscript:<file>'")


def _add_model_flags(p) -> None:
    p.add_argument("--kwargs", type=json_mapping, default=None, metavar="JSON",
                   help="user models: keyword arguments of the factory, e.g. '{\"width\": 64}'")
    p.add_argument("--weights-prefix", default=None, help="user models: load only the weights under this key prefix")
    p.add_argument("--input-size", type=positive_int, default=None, help="network input side (default: the model's)")
    p.add_argument("--mean", type=float, nargs=3, default=None, metavar=("R", "G", "B"),
                   help="normalisation mean on the 0..1 scale (default ImageNet's)")
    p.add_argument("--std", type=float, nargs=3, default=None, metavar=("R", "G", "B"),
                   help="normalisation std on the 0..1 scale (default ImageNet's)")
    p.add_argument("--interpolation", default=None, choices=["bicubic", "bilinear", "nearest"],
                   help="resize interpolation (default bicubic)")
    p.add_argument("--preprocess", default=None, metavar="CALLABLE",
                   help="'package.module:fn' or 'file.py:fn' replacing resize and normalisation: "
                        "fn(images (n, 3, 64, 64) in 0..1) -> model input")


def register(subparsers) -> None:
    from ..generation.manifolds import MANIFOLD_KINDS
    from ..generation.networks import N_UNITS
    from ..generation.stimuli import THUMBNAILS_NAME
    from ..generation.transforms import TRANSFORMS_1D, TRANSFORMS_2D

    p = subparsers.add_parser("stimuli", help="make the embedded stimulus set or download the thumbnails")
    sub = p.add_subparsers(dest="stimuli_command", metavar="ACTION", required=True)
    mk = sub.add_parser("make", help="generate the embedded (offline) stimulus set")
    mk.add_argument("output", metavar="OUT.h5", help="output file")
    add_seed(mk)
    mk.add_argument("--n-categories", type=int, default=64)
    mk.add_argument("--n-exemplars", type=int, default=20)
    mk.set_defaults(func=_stimuli_make)
    dl = sub.add_parser("download", help=f"download {THUMBNAILS_NAME} from figshare (resumable)")
    dl.add_argument("output", metavar="OUT", help="output file or directory")
    dl.add_argument("--url", default=None, help="download this URL instead of asking figshare")
    dl.add_argument("--md5", default=None)
    dl.add_argument("--sha256", default=None)
    dl.add_argument("--size", type=int, default=None)
    dl.add_argument("--retries", type=non_negative_int, default=5)
    add_quiet(dl)
    dl.set_defaults(func=_stimuli_download)
    im = sub.add_parser(
        "from-images", help="convert your images (one sub-folder per object, a flat folder, or a CSV) into a stimulus file"
    )
    im.add_argument("input", metavar="IMAGES", help="a folder (one sub-folder per object, or flat) or a CSV of path,object")
    im.add_argument("output", metavar="OUT.h5", help="stimulus file")
    im.add_argument("--fit", default="object", choices=["object", "view", "stimulus"],
                    help="each image becomes the 48-px object square (default), the 64-px view or the 144-px stimulus")
    im.add_argument("--crop", default="center", choices=["center", "pad"], help="non-square images (default center)")
    im.add_argument("--background", default="border",
                    help="surround: border (default), edge, reflect, a gray level 0-255 or R,G,B")
    add_quiet(im)
    im.set_defaults(func=_stimuli_from_images)
    info = sub.add_parser("info", help="summarise a stimulus file")
    info.add_argument("input", metavar="IN")
    info.set_defaults(func=_stimuli_info)

    p = subparsers.add_parser(
        "layers",
        help="list a network's analysed layers (user models: every recordable module, graph node and output)",
    )
    p.add_argument("network", help=NETWORK_HELP)
    p.add_argument("--layer-set", default="default", choices=["default", "all"],
                   help="user models: 'all' lists every recordable layer, not only the default list")
    p.add_argument("--modules", action="store_true", help="also print the torch module of each layer")
    p.add_argument("--weights", default=None, help="user models: a weights file (checks that it fits)")
    _add_model_flags(p)
    add_quiet(p)
    p.set_defaults(func=_layers)

    g = subparsers.add_parser("generate", help="record one shard (objects × one transform) of a manifold dataset")
    g.add_argument("stimuli", metavar="STIMULI", help="stimulus file: an embedded set, the thumbnails or a converted image folder")
    g.add_argument("output", metavar="OUT.nc", help="shard file")
    g.add_argument("--network", required=True, help=NETWORK_HELP)
    g.add_argument(
        "--weights", nargs="+", default=None,
        help="'imagenet' (default for named networks), 'untrained', 'builtin' (default for user models: as built), "
             "or weights/checkpoint file(s) of one architecture",
    )
    g.add_argument("--weights-path", default=None, help="offline copy of the ImageNet weights")
    _add_model_flags(g)
    g.add_argument("--layers", nargs="+", default=None, help="layer slugs (default: all)")
    g.add_argument("--layer-set", default="default", choices=["default", "all"])
    g.add_argument("--kind", default="1d", choices=list(MANIFOLD_KINDS))
    g.add_argument("--transform", required=True)
    g.add_argument("--n-objects", type=positive_int, required=True)
    g.add_argument("--objects", default=None, help="positions, e.g. '0:8' or '0,3,5' (default all)")
    g.add_argument("--n-samples", type=positive_int, default=None)
    g.add_argument("--range-factor", type=float, default=None)
    add_seed(g)
    g.add_argument("--objects-seed", type=seed_int, default=None)
    g.add_argument("--neuron-seed", type=seed_int, default=0)
    g.add_argument("--init-seed", type=seed_int, default=0)
    g.add_argument("--top-fraction", type=float, default=0.1)
    g.add_argument("--max-units", type=positive_int, default=N_UNITS)
    g.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    g.add_argument("--batch-size", type=positive_int, default=64)
    g.add_argument("--threads", type=positive_int, default=None)
    add_quiet(g)
    g.set_defaults(func=_generate)

    c = subparsers.add_parser("collect", help="merge shards into one manifold dataset")
    c.add_argument("shards", nargs="+", metavar="SHARD.nc")
    c.add_argument("output", metavar="OUT.nc", help="manifold dataset")
    c.set_defaults(func=_collect)

    t = subparsers.add_parser("train-demo", help="train the demo CNN on a stimulus file, saving checkpoints")
    t.add_argument("stimuli", metavar="STIMULI", help="stimulus file (e.g. the embedded set)")
    t.add_argument("output", metavar="OUT_DIR", help="directory for the checkpoints")
    t.add_argument("--epochs", type=non_negative_int, default=12)
    add_seed(t)
    t.add_argument("--batch-size", type=positive_int, default=64)
    t.add_argument("--learning-rate", type=float, default=2e-3)
    t.add_argument("--threads", type=positive_int, default=None)
    add_quiet(t)
    t.set_defaults(func=_train_demo)

    s = subparsers.add_parser("contact-sheet", help="draw one object's manifold as a PNG")
    s.add_argument("stimuli", metavar="STIMULI", help="stimulus file")
    s.add_argument("output", metavar="OUT.png", help="PNG file")
    s.add_argument("--image", type=non_negative_int, required=True, help="0-based template image index")
    s.add_argument("--transform", required=True, choices=list(TRANSFORMS_1D + TRANSFORMS_2D))
    s.add_argument("--range-factor", type=float, required=True)
    s.add_argument("--n-samples", type=positive_int, default=9)
    add_seed(s)
    s.set_defaults(func=_contact_sheet)


__all__ = ["register"]
