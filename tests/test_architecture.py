"""The package's shape: imports point one way, argparse only in the CLI, no torch outside
generation, generated files up to date, documentation references resolve."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "src/dnn_manifolds"

# what each part may import (besides itself and the ground floor: errors, validation, the root)
ALLOWED = {
    "data": set(),
    "analysis": {"data"},
    "generation": {"data"},
    "report": {"data", "generation"},
    "workflow": {"data", "analysis", "generation"},
    "cli": {"data", "analysis", "generation", "report", "workflow"},
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        part = rel.parts[0] if len(rel.parts) > 1 else None
        yield path, part


def _imports(path: Path) -> list[str]:
    """Absolute names of the dnn_manifolds modules (and third-party top-levels) it imports."""
    tree = ast.parse(path.read_text())
    pkg = ["dnn_manifolds", *path.relative_to(PACKAGE).parent.parts]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append(name)
    return out


def test_imports_point_one_way():
    bad = []
    for path, part in _modules():
        for name in _imports(path):
            if not name.startswith("dnn_manifolds."):
                continue
            target = name.split(".")[1]
            if target in ALLOWED and part in ALLOWED and target != part and target not in ALLOWED[part]:
                bad.append(f"{path.relative_to(REPO)} imports {name}")
            if part is None and target in ALLOWED and path.name not in ("__init__.py",):
                bad.append(f"{path.relative_to(REPO)} (ground floor) imports {name}")
    assert not bad, "\n".join(bad)


def test_argparse_only_in_the_cli_and_nothing_imports_the_cli():
    for path, part in _modules():
        names = _imports(path)
        if part != "cli":
            assert "argparse" not in names, f"{path.relative_to(REPO)} uses argparse outside the CLI"
            assert not any(n.startswith("dnn_manifolds.cli") for n in names), path


def test_torch_is_imported_only_by_generation():
    for path, part in _modules():
        names = [n.split(".")[0] for n in _imports(path)]
        if "torch" in names or "torchvision" in names:
            assert part == "generation", f"{path.relative_to(REPO)} imports torch"


def test_analyses_and_cli_work_without_torch(tmp_path):
    """A user who analyses recordings can install without PyTorch: import everything but
    generation, build the CLI, import and analyse a file, with torch made unimportable."""
    import numpy as np

    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((12, 3, 4)))
    code = f"""
import sys
sys.modules["torch"] = None
sys.modules["torchvision"] = None
import dnn_manifolds.analysis.capacity, dnn_manifolds.analysis.geometry, dnn_manifolds.report.tables
import dnn_manifolds.workflow.config
from dnn_manifolds.cli import main
d = {str(tmp_path)!r}
assert main(["import", d + "/x.npy", d + "/x.nc", "--quiet"]) == 0
assert main(["capacity", d + "/x.nc", d + "/c.nc", "--quiet", "--expected-precision", "0.25"]) == 0
assert main(["geometry", d + "/x.nc", d + "/g.nc", "--quiet", "--n-t", "20"]) == 0
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "c.nc").exists() and (tmp_path / "g.nc").exists()


def test_workflow_config_check_needs_no_torch():
    code = """
import sys, yaml
sys.modules["torch"] = None
sys.modules["torchvision"] = None
from dnn_manifolds.workflow.config import check_config
for preset in ("config/config.yaml", "config/paper.yaml"):
    check_config(yaml.safe_load(open(preset)))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_no_module_mixes_concerns_by_size():
    """No module over ~650 lines (the LP and the networks are cohesive and near that size)."""
    big = {str(p.relative_to(PACKAGE)): n for p, _ in _modules() if (n := len(p.read_text().splitlines())) > 650}
    assert not big, big


def test_generated_schema_and_key_table_are_up_to_date():
    from dnn_manifolds.workflow.schema import generated_files

    stale = [str(p.relative_to(REPO)) for p, text in generated_files(REPO).items() if p.read_text() != text]
    assert not stale, f"{stale} are out of date: run `make schema`"


def test_every_config_key_has_a_default_or_is_documented_as_optional():
    from dnn_manifolds.workflow.schema import KEYS

    for key in KEYS:
        assert key.description, key.path


def test_documentation_references_resolve():
    anchors = {d.name: set(re.findall(r'<a id="([\w-]+)"></a>', d.read_text())) for d in (REPO / "docs").glob("*.md")}
    sources = [*PACKAGE.rglob("*.py"), *(REPO / "tests").glob("*.py"), *(REPO / "bench").glob("*.py"),
               REPO / "README.md", *(REPO / "config").glob("*"), *(REPO / "workflow").rglob("*.smk")]
    bad = []
    for path in sources:
        for m in re.finditer(r"docs/([\w-]+\.md)(?:#([\w-]+))?", path.read_text()):
            doc, anchor = m.groups()
            if doc not in anchors or (anchor and anchor not in anchors[doc]):
                bad.append(f"{path.relative_to(REPO)}: {m.group(0)}")
    assert not bad, bad


@pytest.mark.parametrize("spec_name", ["analysis.md", "generation.md", "performance-notes.md", "workflow-conventions"])
def test_code_cites_no_document_outside_the_repository(spec_name):
    pattern = re.compile(r"(?<![/\w-])" + re.escape(spec_name))
    files = [*PACKAGE.rglob("*.py"), *(REPO / "tests").glob("*.py"), *(REPO / "bench").glob("*.py"), REPO / "README.md"]
    hits = [str(p.relative_to(REPO)) for p in files if pattern.search(p.read_text()) and p.name != "test_architecture.py"]
    assert not hits, hits
