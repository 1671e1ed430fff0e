"""The layout's rules (docs/architecture.md), checked on the code itself."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from acct445_assets import calendar

PACKAGE = Path(__file__).resolve().parents[1] / "acct445_assets"
PURE = ("sources", "cnoi", "research", "publication")


def _modules(folder: str) -> list[str]:
    return sorted(
        "acct445_assets." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for p in (PACKAGE / folder).rglob("*.py")
        if p.name != "__init__.py"
    )


@pytest.mark.parametrize("folder", PURE)
def test_pure_packages_import_no_dagster(folder):
    # A fresh interpreter shows what importing the folder really loads.
    code = (
        "import importlib, sys\n"
        f"for name in {_modules(folder)!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'dagster_dbt')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{folder}/ loads {out.stdout.strip()}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            base = path.relative_to(PACKAGE).parent.parts
            if node.level:
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                names.add(".".join([*base, *node.module.split(".")]))
            elif node.module.startswith("acct445_assets."):
                names.add(node.module.removeprefix("acct445_assets."))
    return names


def test_research_holds_estimators_only():
    # No data source and no publication code under research/, and nothing there reaches
    # up into the sources, assets or resources.
    offending = {
        str(p.relative_to(PACKAGE)): sorted(
            n
            for n in _imports(p)
            if n.split(".")[0] in ("sources", "assets", "resources", "publication")
        )
        for p in (PACKAGE / "research").rglob("*.py")
    }
    assert {k: v for k, v in offending.items() if v} == {}
    assert not list((PACKAGE / "research").glob("sample*.py"))
    assert not list((PACKAGE / "research").glob("publication*.py"))


def test_loading_the_code_location_imports_no_scipy_stats_statsmodels_or_calendar_builder():
    # Every run worker and CLI call loads the definitions. scipy.stats and statsmodels cost
    # it 1.4 s and 100 MB, and only the validation and the event study's CNOI sorts use
    # them; building the XNYS calendar costs 0.8 s where `make install` stored its sessions.
    assert calendar._stored_sessions() is not None, "no NYSE session table: run make install"
    code = (
        "import sys\n"
        "import acct445_assets.definitions\n"
        "print(sorted(m for m in ('scipy.stats', 'statsmodels', 'exchange_calendars')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
