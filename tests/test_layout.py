"""The folders show the layers (design.md, Layout): the stores and the command line are
packages of their own, and imports run one way between layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "agnost"


def _imports(path: Path) -> set[str]:
    """The agnost modules that ``path`` imports, resolved to absolute dotted names."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in ("agnost", "agnost_async")}


def _layer(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).glob("*.py"))


def test_the_top_folder_holds_the_sync_client_and_what_both_clients_share() -> None:
    files = {path.name for path in PACKAGE.glob("*.py")}
    assert files == {
        "__init__.py",
        "__main__.py",
        "_auth.py",
        "_base.py",
        "_endpoint.py",
        "_public.py",
        "_transport.py",
        "_version.py",
        "client.py",
        "pytest_plugin.py",
    }
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert folders == {"_core", "cli", "emulator", "storage"}


@pytest.mark.parametrize("path", _layer("storage"), ids=lambda path: path.name)
def test_the_stores_stand_on_the_core_alone(path: Path) -> None:
    outside = {
        name for name in _imports(path) if not name.startswith(("agnost._core", "agnost.storage"))
    }
    assert outside == set()


def test_the_memory_store_does_not_import_the_file_store() -> None:
    assert not any("filestore" in name for name in _imports(PACKAGE / "storage" / "base.py"))


def test_nothing_below_the_command_line_imports_it() -> None:
    below = [*_layer("_core"), *_layer("storage"), *PACKAGE.glob("*.py")]
    below += sorted((ROOT / "agnost_async").glob("*.py"))
    importing = {
        str(path.relative_to(ROOT))
        for path in below
        if path.name != "__main__.py"
        and any(n == "agnost.cli" or n.startswith("agnost.cli.") for n in _imports(path))
    }
    assert importing == set()


def test_public_names_did_not_move() -> None:
    import agnost
    import agnost_async
    from agnost.cli import main
    from agnost.cli.smoke import run_smoke
    from agnost.storage import FileStore, MemoryStore, Storage

    assert agnost.FileStore is FileStore is agnost_async.FileStore
    assert agnost.MemoryStore is MemoryStore and agnost.Storage is Storage
    assert callable(main) and callable(run_smoke)
