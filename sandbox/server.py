"""Run the sandbox under uvicorn in a background thread (the CLI and tests alike).

The listening socket is bound here, before uvicorn starts, so port 0 works: the
caller learns the real port from the socket.
"""

from __future__ import annotations

import socket
import threading
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
        # Present as the IIS in front of a .NET Framework Creatio does.
        server_header=False,
        headers=[("Server", "Microsoft-IIS/10.0"), ("X-Powered-By", "ASP.NET")],
    )


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

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

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
