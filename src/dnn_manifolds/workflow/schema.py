"""Every configuration key of the workflow — type, default, description — in one place.

:data:`KEYS` lists the keys as dotted paths (``<name>`` stands for an entry of a mapping chosen
by the user, e.g. a network's short name). From it come

* the JSON schema the workflow validates its configuration with
  (``workflow/schemas/config.schema.yaml``, written by :func:`write_generated`);
* the defaults :func:`apply_defaults` fills in (the workflow reads no other defaults);
* the key table of ``config/README.md`` (:func:`key_table`, between the ``keys`` markers).

The analyses' options (``capacity.options``, ``geometry.*``) come from their option classes
(:class:`~dnn_manifolds.analysis.capacity.CapacityOptions`,
:class:`~dnn_manifolds.analysis.geometry.GeometryOptions`), so a default is never repeated. A
test checks that the committed schema and table are what this module generates.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..analysis.capacity.options import CapacityOptions
from ..analysis.geometry.options import GeometryOptions
from ..analysis.options import Options

__all__ = ["KEYS", "Key", "apply_defaults", "build_schema", "key_table", "write_generated"]

SCHEMA_PATH = "workflow/schemas/config.schema.yaml"
README_PATH = "config/README.md"
TABLE_BEGIN = "<!-- keys: begin (generated from dnn_manifolds.workflow.schema; make schema) -->"
TABLE_END = "<!-- keys: end -->"

_REQUIRED = object()
_NO_DEFAULT = object()
SLUG = {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}
NAME_PATTERN = "^[A-Za-z0-9_]+$"
POSITIVE_INT = {"type": "integer", "minimum": 1}
LAYER_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}
TRIPLE = {"type": "array", "minItems": 3, "maxItems": 3, "items": {"type": "number"}}
GRAY = {"type": "integer", "minimum": 0, "maximum": 255}
_OWN_INPUT = {
    "oneOf": [
        {"type": "string"},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["path"],
            "properties": {
                "path": {"type": "string", "description": "the data file"},
                "variable": {"type": "string", "description": "the data variable (default: own_data.variable; assemblies and features: the only one)"},
                "object_coord": {"type": "string", "description": "assemblies: presentation coordinate naming the objects"},
                "session_coord": {"type": "string", "description": "assemblies: neuroid (or presentation) coordinate naming the sessions"},
                "average_by": {"type": "string", "description": "assemblies: presentation coordinate whose repeated values are averaged"},
                "presentation_dim": {"type": "string", "description": "assemblies: the presentation dim (default presentation)"},
                "neuroid_dim": {"type": "string", "description": "assemblies: the neuroid dim (default neuroid)"},
                "labels": {"type": "string", "description": "features: labels file, one object per stimulus"},
                "labels_column": {"type": "string", "description": "features: the labels' column (labels CSV or features CSV)"},
                "labels_from": {"enum": ["value", "parent"], "description": "features: parent = labels are paths, their folder names the object"},
            },
        },
    ]
}


@dataclass(frozen=True)
class Key:
    """One configuration key."""

    path: str
    schema: dict[str, Any]
    description: str
    default: Any = _NO_DEFAULT
    shown_default: str | None = None  # how the default reads in the key table, if not literal

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


def _option_key(path: str, options: type[Options], name: str, **overrides: Any) -> Key:
    """A key whose type, default and description are those of an analysis option."""
    f = next(f for f in fields(options) if f.name == name)  # type: ignore[arg-type]
    spec = f.metadata["option"]
    schema = spec.json_schema(f.default)
    description = schema.pop("description")
    schema.pop("default", None)
    default = overrides.pop("default", f.default)
    shown = overrides.pop("shown_default", None)
    if shown is None and default is None and spec.none_means:
        shown = f"null: {spec.none_means}"
    schema.update(overrides.pop("schema", {}))
    return Key(path, schema, overrides.pop("description", description), default, shown)


def _options_block(path: str, options: type[Options], exclude: tuple[str, ...] = ()) -> Key:
    schema = options.json_schema()
    for name in exclude:
        schema["properties"].pop(name)
    names = ", ".join(f"`{n}`" for n in schema["properties"])
    return Key(
        path,
        schema,
        f"options of the {options.ANALYSIS} ({names}; docs/{options.ANALYSIS}.md), validated before any job",
        {},
        "`{}`",
    )


KEYS: tuple[Key, ...] = (
    Key("seed", {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}, "base seed; every random draw of every job derives from it (recorded in every output)", _REQUIRED),
    Key("device", {"enum": ["auto", "cpu", "cuda"]}, "where networks run (generation, training); auto: a GPU when the job sees one (resolved inside the job)", "auto"),
    Key("batch_size", POSITIVE_INT, "images per forward pass", 64),
    Key("warm_processes", {"type": "boolean"}, "local runs: analysis jobs run in children forked from one process with the analysis libraries already imported (about a second less per job; same results); false: each job imports them itself (docs/architecture.md#warm-processes)", True),
    # ------------------------------------------------------------------ stimuli
    Key("stimuli.source", {"enum": ["embedded", "thumbnails", "images"]}, "the embedded offline stimulus set, the ImageNet 64px thumbnails file, or images: your own image folder (stimuli.images)", "embedded"),
    Key("stimuli.n_categories", {"type": "integer", "minimum": 2}, "categories of the embedded set", 64),
    Key("stimuli.n_exemplars", POSITIVE_INT, "images per category of the embedded set", 20),
    Key("stimuli.thumbnails_path", {"type": "string"}, "local path of the thumbnails file (downloaded there if missing and download is true)", "resources/imagenet_all_thumbnails_64px.mat"),
    Key("stimuli.download", {"type": "boolean"}, "download the thumbnails (figshare, resumable, checksum-verified) if missing", True),
    Key("stimuli.images.path", {"type": "string"}, "source images: your images: a folder with one sub-folder per object, a flat folder of template images (each its own object), or a CSV with columns path,object (docs/generation.md#generation-image-folders)"),
    Key("stimuli.images.fit", {"enum": ["object", "view", "stimulus"]}, "source images: what each (square) image becomes: the 48-px object square, the 64-px view (object and frame), or the whole 144-px stimulus", "object"),
    Key("stimuli.images.crop", {"enum": ["center", "pad"]}, "source images: non-square images keep their central square, or are padded to a square with the background", "center"),
    Key("stimuli.images.background", {"oneOf": [{"enum": ["border", "edge", "reflect"]}, GRAY, {"type": "array", "minItems": 3, "maxItems": 3, "items": GRAY}]}, "source images: the surround up to 144 px: border (median colour of the image's border), edge (repeated), reflect (mirrored), a gray level or [R, G, B]", "border"),
    # ------------------------------------------------------------------ networks
    Key("networks.<name>.architecture", {"type": "string"}, "alexnet, vgg16, resnet50, democnn, any torchvision classification model name, or your own model: package.module:factory, file.py:factory, timm:<name>, torchscript:<file> (docs/generation.md#generation-user-models)", _REQUIRED),
    Key("networks.<name>.weights", {"type": "string"}, "untrained (seeded random init), imagenet (torchvision weights), demo (the CNN trained by the workflow; democnn only), builtin (user models: as the factory or archive gives it), or a path to a weights/checkpoint file", shown_default="`untrained`; user models: `builtin`"),
    Key("networks.<name>.kwargs", {"type": "object"}, "user models: keyword arguments of the factory (or of timm.create_model)", {}, "`{}`"),
    Key("networks.<name>.weights_prefix", {"type": "string"}, "user models: load only the weights file's keys under this prefix, removing it (e.g. encoder.)"),
    Key("networks.<name>.preprocessing.input_size", {"type": "integer", "minimum": 8}, "network input side, pixels (the 64-px warped images are resized to it)", shown_default="224; democnn 64; timm: the model's"),
    Key("networks.<name>.preprocessing.mean", TRIPLE, "per-channel mean on the 0..1 scale", shown_default="ImageNet's; timm: the model's"),
    Key("networks.<name>.preprocessing.std", TRIPLE, "per-channel std on the 0..1 scale", shown_default="ImageNet's; timm: the model's"),
    Key("networks.<name>.preprocessing.interpolation", {"enum": ["bicubic", "bilinear", "nearest"]}, "resize interpolation", shown_default="bicubic; timm: the model's"),
    Key("networks.<name>.preprocessing.function", {"type": "string"}, "import path of a callable replacing resize and normalisation: fn(images (n, 3, 64, 64) in 0..1) -> model input"),
    Key("networks.<name>.weights_path", {"type": "string"}, "offline copy of the torchvision ImageNet weights file (with weights: imagenet)"),
    Key("networks.<name>.layers", {"oneOf": [{"enum": ["all"]}, {"type": "array", "minItems": 1, "items": LAYER_NAME}]}, "all (the network's default list), or a list of layer slugs or, for user models, module / graph-node names (dnn-manifolds layers NETWORK lists them)", "all"),
    # ------------------------------------------------------------------ manifolds
    Key("manifolds.<name>.kind", {"enum": ["1d", "2d", "point-cloud"]}, "1d: smooth 1-d affine changes; 2d: random 2-d affine changes; point-cloud: many images of a category", _REQUIRED),
    Key("manifolds.<name>.transforms", {"type": "array", "minItems": 1, "items": SLUG}, "1d: x-translation y-translation x-scale y-scale x-shear y-shear rotation; 2d: translation shear; point-cloud variants: full top shuffled", shown_default="1d, 2d: all of the kind; point-cloud: [full]"),
    Key("manifolds.<name>.range_factor", {"type": "number", "exclusiveMinimum": 0}, "size of the change in pixels of corner displacement (the paper's range factor); required for 1d and 2d"),
    Key("manifolds.<name>.n_objects", {"type": "integer", "minimum": 2}, "P, the number of objects (at most the categories of the stimuli)", shown_default="(required); source images: every object"),
    Key("manifolds.<name>.n_samples", POSITIVE_INT, "M, samples per object (odd for 1-d manifolds: the identity is the centre sample)", _REQUIRED),
    Key("manifolds.<name>.objects_per_shard", POSITIVE_INT, "objects per generation job", 8),
    Key("manifolds.<name>.objects_seed", {"type": "integer", "minimum": 0, "maximum": 1000}, "template-choice seed as in the original (a seed above the base seed draws an image-disjoint control set)", shown_default="the original's default for P"),
    Key("manifolds.<name>.neuron_seed", {"type": "integer", "minimum": 0}, "seed of the recorded unit subsets (the original's 'different neurons' seed)", shown_default="derived from seed"),
    Key("manifolds.<name>.networks", {"type": "array", "minItems": 1, "items": SLUG}, "record this set only through these networks", shown_default="every network"),
    Key("manifolds.<name>.replicates", {"type": "array", "items": {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {"objects_seed": {"type": "integer", "minimum": 0, "maximum": 1000}, "neuron_seed": {"type": "integer", "minimum": 0}, "networks": {"type": "array", "minItems": 1, "items": SLUG}}}}, "replicates of the set, each another objects_seed and/or neuron_seed (and optionally its own networks): sets <name>_r1, <name>_r2, … analysed like the set; tables and figures report mean ± standard error over the set and its replicates", []),
    # ------------------------------------------------------------------ training
    Key("demo_training.epochs", POSITIVE_INT, "training epochs of the demo CNN", 6),
    Key("demo_training.threads", POSITIVE_INT, "torch threads of the training job, fixed whatever the cores given (torch's results depend on the thread count; generation runs on one)", 2),
    # ------------------------------------------------------------------ analyses
    Key("capacity.enabled", {"type": "boolean"}, "run the direct capacity", True),
    _options_block("capacity.options", CapacityOptions),
    Key("geometry.enabled", {"type": "boolean"}, "run the mean-field-theory geometry", True),
    _option_key(
        "geometry.method",
        GeometryOptions,
        "method",
        default="auto",
        schema={"enum": ["auto", "smooth", "point_cloud"]},
        description="analysis method; auto: point_cloud for point clouds, smooth for 1d/2d manifolds and own data",
    ),
    _option_key("geometry.n_t", GeometryOptions, "n_t"),
    _option_key("geometry.kappa", GeometryOptions, "kappa"),
    _options_block("geometry.options", GeometryOptions, exclude=("method", "n_t", "kappa")),
    # ------------------------------------------------------------------ experiments
    Key("experiments.<name>.analysis", {"enum": ["capacity", "geometry"]}, "the analysis the experiment repeats", _REQUIRED),
    Key("experiments.<name>.grid", {"oneOf": [{"type": "object", "minProperties": 1, "additionalProperties": {"type": "array", "minItems": 1}}, {"type": "array", "minItems": 1, "items": {"type": "object", "minProperties": 1}}]}, "options changed per variant: a mapping of value lists (the variants are their cartesian product) or a list of mappings (one variant each); one job per network, manifold set, layer and transform runs every variant", _REQUIRED),
    Key("experiments.<name>.options", {"type": "object"}, "options every variant shares, on top of the analysis's options in this config (validated against the analysis's options)", {}, "`{}`"),
    Key("experiments.<name>.networks", {"type": "array", "minItems": 1, "items": SLUG}, "networks the experiment runs on", shown_default="every network"),
    Key("experiments.<name>.manifolds", {"type": "array", "minItems": 1, "items": {"type": "string"}}, "manifold sets (names or shell patterns such as affine_1d_*) the experiment runs on; their replicates follow", shown_default="every set"),
    Key("experiments.<name>.layers", {"type": "array", "minItems": 1, "items": SLUG}, "layers (of the networks that have them)", shown_default="every layer"),
    Key("experiments.<name>.transforms", {"type": "array", "minItems": 1, "items": SLUG}, "transforms (of the sets that have them)", shown_default="every transform"),
    # ------------------------------------------------------------------ partial runs, own data
    Key("only.networks", {"type": "array", "items": SLUG}, "partial runs: only these networks (tables, plots and report are then not targeted)"),
    Key("only.manifolds", {"type": "array", "items": SLUG}, "partial runs: only these manifold sets"),
    Key("only.layers", {"type": "array", "items": SLUG}, "partial runs: only these layers"),
    Key("only.transforms", {"type": "array", "items": SLUG}, "partial runs: only these transforms"),
    Key("only.experiments", {"type": "array", "items": SLUG}, "partial runs: only these experiments (capacity and geometry name the two baseline analyses)"),
    Key("own_data.inputs.<name>", _OWN_INPUT, "your own data sets: a short name and a file (.mat, .npy, .npz, .nc), or a mapping with path and the options of an assembly (object_coord, session_coord, average_by, …) or a feature matrix (labels, labels_column, labels_from) (docs/data-model.md#data-assemblies)"),
    Key("own_data.variable", {"type": "string"}, "name of the data variable in those files", "tuning_function"),
)
"""Every configuration key."""


# ----------------------------------------------------------------------------- the schema


@dataclass
class _Node:
    key: Key | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _tree() -> _Node:
    root = _Node()
    for key in KEYS:
        node = root
        for part in key.path.split("."):
            node = node.children.setdefault(part, _Node())
        node.key = key
    return root


def _node_schema(node: _Node, path: str) -> dict[str, Any]:
    if node.key is not None:
        out = copy.deepcopy(node.key.schema)
        out["description"] = node.key.description
        if not node.key.required and node.key.default is not _NO_DEFAULT:
            out["default"] = copy.deepcopy(node.key.default)
        return out
    if list(node.children) == ["<name>"]:  # a mapping of user-chosen names
        child = node.children["<name>"]
        return {
            "type": "object",
            "default": {},
            "propertyNames": {"pattern": NAME_PATTERN if path != "own_data.inputs" else SLUG["pattern"]},
            "additionalProperties": _node_schema(child, path + ".<name>"),
        }
    props = {name: _node_schema(child, f"{path}.{name}" if path else name) for name, child in node.children.items()}
    required = [n for n, c in node.children.items() if c.key is not None and c.key.required]
    out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        out["required"] = required
    if path:
        out["default"] = {}
    return out


def build_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of a workflow configuration."""
    schema = _node_schema(_tree(), "")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "description": (
            "Configuration of the dnn-manifolds workflow, generated from "
            "dnn_manifolds.workflow.schema (do not edit; run `make schema`). Unknown keys are "
            "rejected; checks that need the package run right after, before any job."
        ),
        **schema,
    }


# ----------------------------------------------------------------------------- defaults


def apply_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``config`` with every missing key that has a default filled in."""
    out = copy.deepcopy(dict(config))

    def fill(node: _Node, target: dict[str, Any]) -> None:
        for name, child in node.children.items():
            if name == "<name>":
                for entry in target.values():
                    if isinstance(entry, dict):
                        fill(child, entry)
                continue
            if child.key is not None:
                if name not in target and child.key.default not in (_NO_DEFAULT, _REQUIRED):
                    target[name] = copy.deepcopy(child.key.default)
                continue
            sub = target.setdefault(name, {})
            if isinstance(sub, dict):
                fill(child, sub)

    fill(_tree(), out)
    return out


# ----------------------------------------------------------------------------- docs


def _shown(key: Key) -> str:
    if key.shown_default is not None:
        return key.shown_default
    if key.required:
        return "(required)"
    if key.default is _NO_DEFAULT:
        return ""
    value = key.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value is None:
        return "`null`"
    return f"`{value}`"


def key_table() -> str:
    """The Markdown table of every key (for ``config/README.md``)."""
    lines = ["| key | default | meaning |", "|---|---|---|"]
    for key in KEYS:
        lines.append(f"| `{key.path}` | {_shown(key)} | {key.description.replace('|', '/')} |")
    return "\n".join(lines)


def _yaml(schema: dict[str, Any]) -> str:
    import yaml

    header = (
        "# Generated from src/dnn_manifolds/workflow/schema.py by `make schema`; do not edit.\n"
        "# Every key's type, default and description lives there (one source of truth).\n"
    )
    return header + yaml.safe_dump(schema, sort_keys=False, allow_unicode=True, width=100)


def generated_files(root: str | Path = ".") -> dict[Path, str]:
    """The generated files' paths (under ``root``) and their expected contents."""
    root = Path(root)
    readme = root / README_PATH
    text = readme.read_text()
    if TABLE_BEGIN not in text or TABLE_END not in text:
        raise ValueError(f"{readme}: no generated key table markers")
    head, rest = text.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    return {
        root / SCHEMA_PATH: _yaml(build_schema()),
        readme: f"{head}{TABLE_BEGIN}\n{key_table()}\n{TABLE_END}{tail}",
    }


def write_generated(root: str | Path = ".") -> list[Path]:
    """Regenerate the schema file and the key table of ``config/README.md``."""
    from ..data.files import write_text

    written = []
    for path, content in generated_files(root).items():
        if not path.exists() or path.read_text() != content:
            write_text(path, content)
            written.append(path)
    return written
