"""The shape of the package: no import cycle, a short top level, small modules, the domain seam, and
`dvc.yaml` deps that cover every module a stage imports (else `dvc repro` serves stale outputs)."""

from __future__ import annotations

import ast

import pytest
import yaml

from pipelines.config import PROJECT_ROOT
from pipelines.stages import STAGE_MODULES
from tests.project import module_graph as mg

pytestmark = pytest.mark.unit

RAIL = ("sources", "detection", "features", "live")                        # know trains and departure boards
PLATFORM = ("validation", "modeling", "registry", "monitoring", "runtime", "state", "serving")  # domain-free
ENTRY = ("pipelines", "pipelines.__main__", "pipelines.cli", "pipelines.stages")  # python -m pipelines
MAX_LINES = 200
MAX_TOP_LEVEL = 10


def family(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (mg.PACKAGE / parts[1]).is_dir()) else ""


def test_no_import_cycle_among_pipelines_modules() -> None:
    assert mg.cycles(mg.imports()) == []


def test_the_top_level_holds_at_most_about_ten_modules() -> None:
    top = sorted(p.name for p in mg.PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL, top


def test_no_module_above_two_hundred_lines() -> None:
    long = {name: n for name, path in mg.modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_platform_never_imports_the_rail_specific_families() -> None:
    graph = mg.imports()
    crossing = {(m, t) for m, targets in graph.items() if family(m) in PLATFORM
                for t in targets if family(t) in RAIL}
    assert crossing == set()


# What each family may import besides itself and the shared core (docs/ARCHITECTURE.md, "The packages").
ALLOWED = {
    "sources": set(), "validation": set(), "detection": {"validation"}, "features": {"validation"},
    "modeling": {"registry"}, "registry": {"modeling", "state"},
    "monitoring": {"modeling", "registry", "serving", "state"},
    "runtime": {"monitoring", "registry", "state"}, "ops": {"runtime"}, "state": set(),
    "demo": {"monitoring", "ops", "registry", "runtime", "serving", "state", "validation"},
    "serving": {"modeling", "registry"},
    "live": {"detection", "features", "registry", "serving", "sources"},
}
CORE = {"", "config", "storage"}


def test_each_family_imports_only_what_the_architecture_page_allows() -> None:
    found = {(family(m), family(t)) for m, targets in mg.imports(strings=False).items() for t in targets}
    core = {f for f, t in found if f in CORE and t not in CORE}
    extra = {(f, t) for f, t in found if f not in CORE and t not in CORE | {f} | ALLOWED[f]}
    assert core == set() and extra == set()


def _has_code(path) -> bool:
    """A package __init__ with more than its docstring."""
    body = ast.parse(path.read_text()).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in body)


def required_files(stage: str) -> set[str]:
    """Files `python -m pipelines STAGE` executes: the entry point and everything the stage imports."""
    graph, plain, known = mg.imports(), mg.imports(strings=False), mg.modules()
    graph.update({entry: plain[entry] for entry in ENTRY})  # not the other commands they name by string
    needed = set().union(*(mg.closure(graph, m) for m in (STAGE_MODULES[stage], *ENTRY)))
    paths = {known[m] for m in needed}
    return {str(p.relative_to(PROJECT_ROOT)) for p in paths if p.name != "__init__.py" or _has_code(p)}


def covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("stage", list(yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]))
def test_dvc_stage_deps_cover_every_module_the_stage_imports(stage: str) -> None:
    deps = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"][stage]["deps"]
    missing = sorted(p for p in required_files(stage) if not covered(p, deps))
    assert missing == [], f"dvc.yaml stage {stage!r} does not list modules it imports: add them to its deps"
