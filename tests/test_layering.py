"""The package layering, kept by walking every import of the hand-written packages:

ikasched_cli                  the roof: may import everything below
ikasched_web                  a client beside the CLI: the SDK, ikasched_common and the CLI's
                              pure plan graph; never a process package
ikasched_dashboard   ikasched_agent   neither imports the other, nor the CLI
ikasched_common               the ground floor: only what both sides use
ikasched (generated SDK)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "ikasched_common": {"ikasched_dashboard", "ikasched_agent", "ikasched_cli"},
    "ikasched_dashboard": {"ikasched_agent", "ikasched_cli"},
    "ikasched_agent": {"ikasched_dashboard", "ikasched_cli"},
    "ikasched_web": {"ikasched_dashboard", "ikasched_agent"},
}


def imported_packages(path: Path) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update((node.lineno, a.name.split(".")[0]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_upward_or_sideways(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, package
    wrong = [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for path in files
        for line, name in sorted(imported_packages(path))
        if name in FORBIDDEN[package]
    ]
    assert wrong == []


def test_the_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n    from ikasched_dashboard.app import x\n    import ikasched_cli\n"
    )
    assert {n for _, n in imported_packages(probe)} == {"ikasched_dashboard", "ikasched_cli"}
