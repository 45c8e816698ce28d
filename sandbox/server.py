"""Run the sandbox under uvicorn: in the foreground (the CLI) or in a thread (tests).

The listening socket is bound here, before uvicorn starts, so port 0 works: the
caller learns the real port from the socket.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # A short keep-alive would make idle client pools meet closed sockets.
        timeout_keep_alive=30,
    )


def serve_foreground(app: Any, sock: socket.socket, on_ready: Callable[[], None]) -> None:
    """Serve until SIGINT or SIGTERM; call `on_ready` once requests are accepted."""
    server = uvicorn.Server(_config(app))

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            on_ready()
        await task

    asyncio.run(main())


class BackgroundServer:
    """uvicorn in a daemon thread, stopped cleanly by `stop()`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self._server = uvicorn.Server(_config(app))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the sandbox server thread exited during start-up")
            if waited > timeout:
                raise TimeoutError("the sandbox server did not start")
            threading.Event().wait(0.01)
            waited += 0.01

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self.sock.close()
