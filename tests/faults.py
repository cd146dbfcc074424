"""Faults for tests: a TCP proxy in front of PostgreSQL that can make the database unreachable for
the processes pointed at it (connections refused, open ones cut), while the test itself keeps its
direct connection to check what was stored."""

import contextlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from core.config import REPO_ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TcpProxy:
    """127.0.0.1:``port`` → 127.0.0.1:``target``; ``down()`` refuses and cuts, ``up()`` serves again."""

    def __init__(self, target: int):
        self.target = target
        self.port = free_port()
        self._server: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        server.settimeout(0.1)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, server: socket.socket) -> None:
        while self._server is server:
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        with self._lock:
            self._open -= {source, sink}


def database_url_via(proxy: TcpProxy, settings) -> str:
    return f"postgresql://{settings.pg_user}:{settings.pg_password}@127.0.0.1:{proxy.port}/{settings.pg_database}"


class Process:
    """A platform process started by a test, its output in a file the test can read."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._out = log.open("wb")
        self._process = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=self._out, stderr=subprocess.STDOUT)

    @classmethod
    def module(cls, module: str, *args: str, env: dict[str, str], log: Path) -> "Process":
        return cls([sys.executable, "-m", module, *args], env, log)

    def lines(self, text: str) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if text in line]

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._out.close()

    def wait_for_port(self, port: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self._process.poll() is None, self.log.read_text(errors="replace")[-3000:]
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return
            time.sleep(0.2)
        raise AssertionError(f"nothing listens on {port}: {self.log.read_text(errors='replace')[-3000:]}")
