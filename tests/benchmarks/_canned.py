"""A canned JSON server for the client benchmarks: an ``aiohttp.web`` app in its own process,
answering ``GET path`` with one fixed JSON body (keep-alive on), and 401
``missing_session_token`` to a request without a ``Session`` header."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# argv: the route's path, then the body as JSON text. Prints the port it listens on.
SERVER = """
import asyncio, sys
from aiohttp import web

PATH, BODY = sys.argv[1], sys.argv[2].encode()

async def answer(request):
    if request.headers.get("Session") is None:
        errors = {"errors": [{"code": "missing_session_token"}]}
        return web.json_response(errors, status=401)
    return web.Response(body=BODY, content_type="application/json")

async def main():
    app = web.Application()
    app.router.add_get(PATH, answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@contextmanager
def canned_json_server(path: str, body: object) -> Iterator[str]:
    """Start the server answering ``GET path`` with ``body``; yield its base URL, then stop it."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, path, json.dumps(body)],
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{int(process.stdout.readline())}"
    finally:
        process.terminate()
        process.wait(10)
