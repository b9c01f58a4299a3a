"""Import isolation, checked in a fresh interpreter: the core imports neither HTTP library,
``import agnost`` loads neither until the client is asked for, and each flavour loads only
its own."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import textwrap

import pytest

import agnost._core

CORE_MODULES = sorted(
    f"agnost._core.{info.name}" for info in pkgutil.iter_modules(agnost._core.__path__)
)


def _loaded_after(code: str) -> dict[str, bool]:
    """Run ``code`` in a clean interpreter; say whether requests and aiohttp got imported."""
    probe = textwrap.dedent(
        """
        import json, sys
        {code}
        print(json.dumps({{
            name: any(m == name or m.startswith(name + ".") for m in sys.modules)
            for name in ("requests", "aiohttp", "urllib3", "yarl", "multidict")
        }}))
        """
    ).format(code=code)
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: dict[str, bool] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_the_core_package_lists_its_modules() -> None:
    assert {"agnost._core.models", "agnost._core.operations", "agnost._core.http"} <= set(
        CORE_MODULES
    )


@pytest.mark.parametrize("module", ["agnost._core", *CORE_MODULES])
def test_the_core_imports_no_http_library(module: str) -> None:
    loaded = _loaded_after(f"import {module}")

    assert loaded == {
        "requests": False,
        "aiohttp": False,
        "urllib3": False,
        "yarl": False,
        "multidict": False,
    }


def test_import_agnost_imports_no_http_library() -> None:
    loaded = _loaded_after("import agnost; agnost.User; agnost.MemoryStore; agnost.Timeout")

    assert loaded["requests"] is False
    assert loaded["aiohttp"] is False


def test_asking_for_the_sync_client_imports_requests_but_not_aiohttp() -> None:
    loaded = _loaded_after(
        "import agnost; agnost.create_client; agnost.Client\n"
        "c = agnost.create_client('http://127.0.0.1:9', 'k', storage=agnost.MemoryStore())\n"
        "c.close()"
    )

    assert loaded["requests"] is True
    assert loaded["aiohttp"] is False


def test_the_async_flavour_never_imports_requests() -> None:
    loaded = _loaded_after(
        "import asyncio, agnost_async\n"
        "async def main():\n"
        "    c = agnost_async.create_client('http://127.0.0.1:9', 'k')\n"
        "    await c.auth.get_session()\n"
        "    await c.aclose()\n"
        "asyncio.run(main())"
    )

    assert loaded["aiohttp"] is True
    assert loaded["requests"] is False
    assert loaded["urllib3"] is False
