"""Imports go one way: data_utils below model, both below distributed and demo; bench and
tests on top. Every import statement of every module counts, function-level ones included."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("data_utils", "model", "distributed", "demo", "bench")
FORBIDDEN = {
    "data_utils": {"model", "distributed", "demo", "bench"},
    "model": {"distributed", "demo", "bench"},
    "distributed": {"demo", "bench"},
    "demo": {"bench"},
}
# No sideways import is allowed; an exception would be named here, so that none joins unnoticed.
ALLOWED: set[tuple[str, str]] = set()


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_each_layer_imports_only_downwards():
    wrong = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in imported_modules(path):
                top = name.split(".")[0]
                if top in forbidden and (package, name) not in ALLOWED:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)
