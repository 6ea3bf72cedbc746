r"""Any PyTorch model: import paths, timm, TorchScript; weights files; what can be recorded
(``docs/generation.md#generation-user-models``).

Model sources (the ``network`` / ``architecture`` string)
--------------------------------------------------------
* ``"package.module:factory"`` or ``"path/to/file.py:factory"`` — a callable returning a
  :class:`torch.nn.Module`, called with keyword arguments ``kwargs``. Modules are imported as
  ``python -m`` would: the working directory (``base_dir``) first, then installed packages.
  ``factory`` may be a dotted attribute path (``"pkg.models:Nets.small"``).
* ``"timm:<name>"`` — ``timm.create_model(name, pretrained=False, **kwargs)`` when timm is
  installed (random initialisation offline; pass a weights file, or ``pretrained: true`` in
  ``kwargs`` online). Its ``pretrained_cfg`` gives the default input size, mean and std.
* ``"torchscript:path/to/model.pt"`` — an archive of :func:`torch.jit.save`.

Factories and timm models are built under ``torch.manual_seed(init_seed)``, so a random
initialisation is reproducible. A weights file (a state dict, or a checkpoint holding one under
``state_dict`` / ``model_state_dict`` / ``model``) is loaded strictly: every parameter must
fit. A ``module.`` prefix on every key (``DataParallel``) is removed; ``weights_prefix`` keeps
only the keys under a prefix (e.g. ``"encoder_q."`` of a self-supervised checkpoint).

What can be recorded (:func:`describe_model`)
---------------------------------------------
One forward pass on a blank image finds what the model computes:

* **module outputs**, named by the module's path (``"layer3"``, ``"features.7"``), recorded
  with forward hooks; a module called *k* > 0 more times gets ``"<path>_<k>"`` for its
  (k+1)-th call;
* **graph nodes** of torchvision's feature-extraction utilities
  (:func:`torchvision.models.feature_extraction.get_graph_node_names`), e.g. ``"flatten"`` or
  ``"layer1.0.add"`` — functional operations that are no module — when the model is
  FX-traceable (otherwise only module outputs are listed, and the reason is kept);
* **the model's output** ``"output"`` (``"output_<i>"`` / ``"output_<key>"`` for a tuple or a
  dict of tensors). TorchScript archives cannot be hooked or traced: their recordable layers
  are their outputs, so script a model whose forward returns the features you want.

Layer slugs are the names with every character outside ``[A-Za-z0-9_-]`` replaced by ``_``;
a configuration may use either. The *default* list (``layers: all``) is the leaves of nested
``nn.Sequential`` containers and the other top-level modules, in forward order, plus the
output; ``layer_set="all"`` lists everything.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError

TIMM_PREFIX = "timm:"
TORCHSCRIPT_PREFIX = "torchscript:"
OUTPUT = "output"

__all__ = [
    "Catalogue",
    "ModelSource",
    "build_user_model",
    "describe_model",
    "import_callable",
    "is_user_model",
    "load_user_weights",
    "parse_model_source",
]


class ModelError(UserError):
    """A user model that cannot be imported, built or run."""


# ============================================================================= sources


def is_user_model(name: str) -> bool:
    """True for an import path, ``timm:<name>`` or ``torchscript:<file>`` (a ``:`` in it)."""
    return isinstance(name, str) and ":" in name


@dataclass(frozen=True)
class ModelSource:
    """A parsed model string: ``kind`` in {"factory", "timm", "torchscript"} and ``target``."""

    kind: str
    target: str

    @property
    def file(self) -> str | None:
        """The file the model comes from (a ``.py`` factory file or a TorchScript archive)."""
        if self.kind == "torchscript":
            return self.target
        module = self.target.rsplit(":", 1)[0]
        return module if module.endswith(".py") else None


def parse_model_source(name: str) -> ModelSource:
    """Parse ``"pkg.mod:factory"``, ``"file.py:factory"``, ``"timm:<name>"`` or
    ``"torchscript:<file>"`` (see the module docstring)."""
    if not is_user_model(name):
        raise ModelError(f"{name!r} is not a model import path ('package.module:factory')")
    if name.startswith(TIMM_PREFIX):
        target = name[len(TIMM_PREFIX):]
        if not target:
            raise ModelError("timm: needs a model name, e.g. 'timm:resnet18'")
        return ModelSource("timm", target)
    if name.startswith(TORCHSCRIPT_PREFIX):
        target = name[len(TORCHSCRIPT_PREFIX):]
        if not target:
            raise ModelError("torchscript: needs a file, e.g. 'torchscript:models/net.pt'")
        return ModelSource("torchscript", target)
    module, _, attr = name.rpartition(":")
    if not module or not attr or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", attr):
        raise ModelError(
            f"{name!r}: a model import path is 'package.module:factory' or 'file.py:factory'"
        )
    if not module.endswith(".py") and not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module):
        raise ModelError(f"{name!r}: {module!r} is neither a module name nor a .py file")
    return ModelSource("factory", name)


# ============================================================================= imports


@contextlib.contextmanager
def _on_path(directory: str | os.PathLike | None):
    directory = str(Path(directory or ".").resolve())
    sys.path.insert(0, directory)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:300]}" if text else type(err).__name__


def _import_module(module: str, *, what: str, base_dir) -> Any:
    if module.endswith(".py"):
        path = Path(base_dir or ".") / module
        if not path.is_file():
            raise ModelError(f"{what}: no such file {module!r} ({path})")
        path = path.resolve()
        key = f"dnn_manifolds_user_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        if key in sys.modules:
            return sys.modules[key]
        spec = importlib.util.spec_from_file_location(key, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        try:
            with _on_path(path.parent):
                spec.loader.exec_module(mod)
        except Exception as err:
            del sys.modules[key]
            raise ModelError(f"{what}: importing {module} failed: {_one_line(err)}") from err
        return mod
    with _on_path(base_dir):
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name and module.startswith(err.name):
                raise ModelError(
                    f"{what}: cannot import module {module!r} (no module named {err.name!r}; "
                    f"it is looked up in {Path(base_dir or '.').resolve()} and the installed packages)"
                ) from err
            raise ModelError(f"{what}: importing {module!r} failed: {_one_line(err)}") from err
        except Exception as err:
            raise ModelError(f"{what}: importing {module!r} failed: {_one_line(err)}") from err


def import_callable(path: str, *, what: str = "model", base_dir: str | os.PathLike | None = None) -> Callable:
    """The callable named by ``"package.module:name"`` or ``"file.py:name"`` (dotted names allowed).

    Raises
    ------
    ModelError
        Naming the module or attribute that cannot be found, and the callables it has.
    """
    module, _, attr = str(path).rpartition(":")
    if not module or not attr:
        raise ModelError(f"{what} {path!r}: expected 'package.module:name' or 'file.py:name'")
    obj = _import_module(module, what=f"{what} {path!r}", base_dir=base_dir)
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = sorted(n for n, v in vars(obj).items() if callable(v) and not n.startswith("_")
                            and getattr(v, "__module__", None) == getattr(obj, "__name__", None))
            close = difflib.get_close_matches(part, public, n=3)
            hint = f"; did you mean {close}?" if close else ""
            raise ModelError(f"{what} {path!r}: {module!r} has no callable {part!r} (it has {public[:20]}){hint}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ModelError(f"{what} {path!r}: {attr!r} is a {type(obj).__name__}, not a callable")
    return obj


# ============================================================================= building


def build_user_model(
    source: ModelSource | str,
    *,
    kwargs: Mapping[str, Any] | None = None,
    init_seed: int = 0,
    base_dir: str | os.PathLike | None = None,
):
    """Build a user model (see the module docstring); returns ``(model, defaults)``.

    ``defaults`` holds preprocessing defaults the model brings (a timm model's input size,
    mean, std and interpolation), else is empty. The model is on the CPU, in eval mode.
    """
    import torch

    if isinstance(source, str):
        source = parse_model_source(source)
    kwargs = dict(kwargs or {})
    defaults: dict[str, Any] = {}
    if source.kind == "torchscript":
        if kwargs:
            raise ModelError(f"torchscript:{source.target}: a TorchScript archive takes no kwargs; got {sorted(kwargs)}")
        path = Path(base_dir or ".") / source.target
        if not path.is_file():
            raise ModelError(f"torchscript:{source.target}: no such file ({path})")
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated in favour of torch.export
                warnings.simplefilter("ignore", FutureWarning)
                model = torch.jit.load(str(path), map_location="cpu")
        except Exception as err:
            raise ModelError(f"{path}: cannot be read as a TorchScript archive ({_one_line(err)})") from err
        return model.eval(), defaults
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(init_seed))
        if source.kind == "timm":
            model, defaults = _build_timm(source.target, kwargs)
        else:
            factory = import_callable(source.target, what="model", base_dir=base_dir)
            try:
                model = factory(**kwargs)
            except Exception as err:
                args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
                raise ModelError(f"model {source.target}({args}) failed: {_one_line(err)}") from err
    if not isinstance(model, torch.nn.Module):
        raise ModelError(f"model {source.target} returned a {type(model).__name__}, not a torch.nn.Module")
    return model.eval(), defaults


def _build_timm(name: str, kwargs: dict[str, Any]):
    try:
        import timm
    except ImportError as err:
        raise ModelError(f"timm:{name}: timm is not installed (pip install timm)") from err
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        raise ModelError(f"timm has no model {name!r}" + (f"; did you mean {close}?" if close else ""))
    kwargs.setdefault("pretrained", False)
    try:
        model = timm.create_model(name, **kwargs)
    except Exception as err:
        raise ModelError(f"timm.create_model({name!r}, {kwargs}) failed: {_one_line(err)}") from err
    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    defaults: dict[str, Any] = {}
    if isinstance(cfg.get("input_size"), (tuple, list)) and len(cfg["input_size"]) == 3:
        defaults["input_size"] = int(cfg["input_size"][-1])
    for key in ("mean", "std"):
        if isinstance(cfg.get(key), (tuple, list)) and len(cfg[key]) == 3:
            defaults[key] = tuple(float(v) for v in cfg[key])
    if cfg.get("interpolation") in ("bicubic", "bilinear", "nearest"):
        defaults["interpolation"] = cfg["interpolation"]
    return model, defaults


def _state_dict_of(obj: Any, path: Path) -> dict:
    from .networks import WeightsError

    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(hasattr(v, "shape") for v in inner.values()):
                return dict(inner)
    if isinstance(obj, Mapping) and obj and all(hasattr(v, "shape") for v in obj.values()):
        return dict(obj)
    raise WeightsError(
        f"{path}: not a state dict (a mapping of parameter names to tensors, or a checkpoint "
        "holding one under 'state_dict', 'model_state_dict' or 'model')"
    )


def load_user_weights(model, path: str | os.PathLike, *, prefix: str | None = None, label: str = "model") -> None:
    """Load a weights file into a user model, strictly (see the module docstring).

    Raises
    ------
    WeightsError
        When the file is no state dict, or its tensors do not fit the model: the message names
        the missing and unexpected keys and the first shape mismatch.
    """
    import torch

    from .networks import WeightsError

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such weights file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise WeightsError(f"{path}: cannot be read as torch weights ({_one_line(err)})") from err
    state = _state_dict_of(obj, path)
    if prefix:
        kept = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not kept:
            roots = sorted({k.split(".")[0] + "." for k in state})[:10]
            raise WeightsError(f"{path}: no key starts with weights_prefix {prefix!r} (keys start with {roots})")
        state = kept
    elif all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [(k, tuple(state[k].shape), tuple(own[k].shape)) for k in own
                  if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        parts = []
        if mismatched:
            k, a, b = mismatched[0]
            parts.append(f"{len(mismatched)} shape mismatch(es), first {k}: file {a} vs model {b}")
        if missing:
            parts.append(f"{len(missing)} missing key(s) {missing[:4]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s) {unexpected[:4]}")
        raise WeightsError(f"{path}: weights do not fit {label}: " + "; ".join(parts))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise WeightsError(f"{path}: weights do not fit {label}: {_one_line(err)}") from err


# ============================================================================= catalogue


def slugify(name: str) -> str:
    """A layer slug (``[A-Za-z0-9_-]+``) from a module or node name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name) or "_"


@dataclass
class Catalogue:
    """What a user model lets record (:func:`describe_model`).

    Attributes
    ----------
    layers : list of Layer
        Every recordable layer, ``pixels`` first, in forward order.
    default : list of str
        Slugs of the default list (``layers: all``).
    shapes : dict of str to tuple of int
        Each layer's output shape for one image.
    graph_error : str or None
        Why graph nodes are not listed (the model is not FX-traceable, or is TorchScript).
    """

    layers: list = field(default_factory=list)
    default: list = field(default_factory=list)
    shapes: dict = field(default_factory=dict)
    graph_error: str | None = None


def model_outputs(output) -> dict[str, Any]:
    """The model's output as named tensors: ``{"": t}``, ``{"0": t0, ...}`` or a dict's items."""
    import torch

    if isinstance(output, torch.Tensor):
        return {"": output}
    if isinstance(output, Mapping):
        return {str(k): v for k, v in output.items() if isinstance(v, torch.Tensor)}
    if isinstance(output, (tuple, list)):
        return {str(i): v for i, v in enumerate(output) if isinstance(v, torch.Tensor)}
    return {}


def _is_feature(value, n: int) -> bool:
    import torch

    return isinstance(value, torch.Tensor) and value.is_floating_point() and value.ndim >= 1 and value.shape[0] == n


def describe_model(model, example, *, label: str = "model") -> Catalogue:
    """List what ``model`` lets record, from one forward pass on ``example`` (see the module
    docstring).

    Parameters
    ----------
    model : torch.nn.Module
        In eval mode, in-place operations disabled.
    example : torch.Tensor
        One preprocessed input, shape (1, …).
    label : str
        The model's name in error messages.

    Raises
    ------
    ModelError
        If the forward pass fails (e.g. the input size does not fit the model).
    """
    import weakref

    import torch

    from .networks import Layer

    is_script = isinstance(model, torch.jit.ScriptModule)
    n = int(example.shape[0])
    calls: dict[str, int] = {}
    finished: list[tuple[str, str, int, tuple, str]] = []  # (name, kind, call, shape, module)
    first_output: dict[str, Any] = {}
    handles = []
    if not is_script:
        for name, module in model.named_modules():
            if not name:
                continue

            def hook(mod, inputs, output, _name=name):
                k = calls.get(_name, 0)
                calls[_name] = k + 1
                if _is_feature(output, n):
                    finished.append((_name if k == 0 else f"{_name}_{k}", "output", k, tuple(output.shape[1:]), _name))
                    if k == 0:
                        first_output[_name] = weakref.ref(output)

            handles.append(module.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            output = model(example)
    except Exception as err:
        raise ModelError(
            f"{label}: the forward pass on a {tuple(example.shape)} input failed ({_one_line(err)}); "
            "check preprocessing input_size (or function)"
        ) from err
    finally:
        for h in handles:
            h.remove()
    outputs = {k: v for k, v in model_outputs(output).items() if _is_feature(v, n)}
    if not outputs:
        raise ModelError(f"{label}: the model's output is a {type(output).__name__}, not a tensor (or tuple/dict of tensors)")

    entries = list(finished)
    graph_error = "TorchScript archives cannot be traced or hooked: their outputs are recordable" if is_script else None
    if not is_script:
        try:
            nodes = _graph_nodes(model, example)
        except Exception as err:  # not FX-traceable: module outputs only
            nodes = []
            graph_error = f"not FX-traceable ({_one_line(err)[:200]})"
        if nodes:
            entries = _merge_by_graph_order(entries, nodes)
    layers = [Layer("pixels", "", "pixels")]
    shapes: dict[str, tuple] = {}
    taken = {"pixels"}

    def add(slug: str, module: str, kind: str, call: int, name: str, shape: tuple) -> Layer:
        base, i = slug, 2
        while slug in taken:
            slug, i = f"{base}-{i}", i + 1
        taken.add(slug)
        layer = Layer(slug, module, kind, call, name)
        layers.append(layer)
        shapes[slug] = shape
        return layer

    for name, kind, call, shape, module in entries:
        add(slugify(name), module, kind, call, name, shape)
    out_layers = []
    for key, value in outputs.items():
        name = OUTPUT if key == "" else f"{OUTPUT}_{key}"
        out_layers.append(add(slugify(name), key, "model", 0, name, tuple(value.shape[1:])))
    default = ["pixels"] + [lay.slug for lay in layers if lay.kind == "output" and lay.call == 0
                            and lay.module in _default_modules(model, is_script)]
    # the output, unless it is the very tensor the last listed module returned
    last = next((lay for lay in reversed(layers) if lay.slug in default[1:]), None)
    duplicate = (len(out_layers) == 1 and isinstance(output, torch.Tensor) and last is not None
                 and last.module in first_output and first_output[last.module]() is output)
    if not duplicate:
        default += [lay.slug for lay in out_layers]
    return Catalogue(layers=layers, default=default, shapes=shapes, graph_error=graph_error)


def _graph_nodes(model, example) -> list[tuple[str, tuple]]:
    """FX graph nodes (torchvision's names) with a feature tensor output, in execution order."""
    import torch
    from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

    _, names = get_graph_node_names(model, suppress_diff_warning=True)
    inputs = set(inspect.signature(model.forward).parameters)
    names = [nm for nm in names if nm not in inputs]
    if not names:
        return []
    extractor = create_feature_extractor(model, return_nodes=names, suppress_diff_warning=True).eval()
    with torch.inference_mode():
        values = extractor(example)
    n = int(example.shape[0])
    return [(nm, tuple(values[nm].shape[1:])) for nm in names if _is_feature(values.get(nm), n)]


def _merge_by_graph_order(entries, nodes):
    """Module outputs and graph nodes in one forward order: a module sits right after the last
    graph node inside it (inner modules before outer ones); a leaf module's call that is also
    a node keeps the module (recorded by a hook)."""
    position = {name: i for i, (name, _) in enumerate(nodes)}
    by_name = {e[0]: e for e in entries}
    merged = []
    for name, shape in nodes:
        entry = by_name.pop(name, None) or (name, "node", 0, shape, name)
        merged.append(((position[name], 0, 0), entry))
    for entry in by_name.values():
        name, _, call, _, module = entry
        inside = [position[nm] for nm in position if call == 0 and nm.startswith(module + ".")]
        if inside:  # else a module the graph does not show (e.g. called inside a leaf module)
            merged.append(((max(inside), 1, -module.count(".")), entry))
    merged.sort(key=lambda item: item[0])
    return [entry for _, entry in merged]


def _default_modules(model, is_script) -> set[str]:
    """Leaves of nested ``nn.Sequential`` containers and the other top-level modules."""
    import torch.nn as nn

    wanted: set[str] = set()
    if is_script:
        return wanted

    def visit(module, prefix: str) -> None:
        for child_name, child in module.named_children():
            path = f"{prefix}{child_name}"
            if isinstance(child, (nn.Dropout, nn.Identity)):
                continue
            if isinstance(child, nn.Sequential) and len(child) > 0:
                visit(child, path + ".")
            else:
                wanted.add(path)

    visit(model, "")
    return wanted
