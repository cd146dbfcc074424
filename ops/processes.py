"""Start, stop and inspect the platform's background processes by pidfile under ``.run/``."""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class SetupError(RuntimeError):
    """Something the operator must fix; the message says what to do."""


@dataclass(frozen=True)
class Managed:
    name: str
    run_dir: Path

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "pids" / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.run_dir / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid if the process is alive, else None (a stale pidfile is removed)."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _alive(pid):
            return pid
        self.pidfile.unlink(missing_ok=True)
        return None

    def start(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> tuple[int, bool]:
        """Start unless already running; returns (pid, started_now)."""
        if (pid := self.pid()) is not None:
            return pid, False
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(self.logfile, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
            )
        self.pidfile.write_text(str(proc.pid))
        return proc.pid, True

    def stop(self, timeout_s: float = 15.0, sig: int = signal.SIGTERM) -> bool:
        """Signal the process group and wait for it; returns whether anything was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, sig)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], *, timeout_s: float, what: str, managed: Managed | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if managed is not None and managed.pid() is None:
            raise SetupError(
                f"{what} exited during start-up; its log ({managed.logfile}) ends with:\n{managed.log_tail()}"
            )
        time.sleep(0.2)
    tail = f"\nlog {managed.logfile}:\n{managed.log_tail()}" if managed else ""
    raise SetupError(f"{what} did not become ready within {timeout_s:.0f} s{tail}")


def check_port_free(port: int, *, owner: str, setting: str) -> None:
    if port_open(port):
        raise SetupError(
            f"port {port} (for {owner}) is already used by another program; "
            f"stop it or choose another port with {setting}=<port>"
        )
