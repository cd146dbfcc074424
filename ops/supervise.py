"""The process supervisor: supervisord (from PyPI) runs every platform process and restarts a crashed
one; one supervisord per clone, its state under ``.run/supervisor/``.

Processes come in groups: ``broker`` (the embedded tansu), and one group per stack instance (``main``
for ``./ewall up``, ``test`` for the suite, ``bench`` …), each with its own environment, so a test
suite's processes run beside a running platform without touching it. A process that exits is
restarted at once; one that exits again within ``START_S`` of starting is retried after 1, 2, 3 …
seconds and, after ``START_RETRIES`` such failures in a row, given up (state FATAL) with a message
in ``./ewall status``."""

import hashlib
import os
import re
import subprocess
import sys
import time
import xmlrpc.client
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from supervisor.xmlrpc import SupervisorTransport

from core.config import REPO_ROOT, Settings
from ops.processes import SetupError, alive

START_S = 3  # a process must stay up this long to count as started
START_RETRIES = 5  # fast failures in a row before giving up
STOP_WAIT_S = 15
# Passed on to every process: the platform's settings and where its services are.
PASSED_ENV = re.compile(r"^(EWALL_|DATABASE_URL$|KAFKA_BOOTSTRAP_SERVERS$|PATH$|HOME$|LANG$|LC_|TZ$|PYTHON)")


@dataclass(frozen=True)
class Program:
    name: str
    argv: tuple[str, ...]
    numprocs: int = 1


@dataclass(frozen=True)
class ProcessInfo:
    group: str
    name: str
    state: str  # RUNNING, STARTING, BACKOFF, STOPPED, EXITED, FATAL …
    pid: int | None
    uptime_s: int | None
    restarts: int
    description: str
    logfile: str


class Supervisor:
    def __init__(self, settings: Settings):
        self.dir = settings.run_dir / "supervisor"
        self.logs = settings.run_dir / "logs"
        self.conf = self.dir / "supervisord.conf"
        self.log = self.dir / "supervisord.log"
        self.pidfile = self.dir / "supervisord.pid"
        self.socket = _socket_path(self.dir)

    # supervisord itself ---------------------------------------------------------------------------

    def running(self) -> bool:
        try:
            return self._rpc().supervisor.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Fault):
            return False

    def ensure_running(self) -> None:
        if self.running():
            return
        for folder in (self.dir, self.dir / "groups", self.logs):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # A new supervisord runs no group until someone asks: the groups of the last one (left by
        # ./ewall down or a crash) would start again with it, say the demo stack under ./ewall test.
        for leftover in (self.dir / "groups").iterdir():
            leftover.unlink()
        self.socket.unlink(missing_ok=True)
        self.log.unlink(missing_ok=True)  # restart counts are read from this log: one run per log
        self.conf.write_text(self._main_config())
        result = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.running():
                return
            time.sleep(0.1)
        raise SetupError(
            f"the process supervisor (supervisord) did not start: {result.stderr.strip() or result.stdout.strip()}; "
            f"see {self.log}"
        )

    def shutdown(self) -> bool:
        """Stop every process and supervisord itself; returns whether it was running."""
        if not self.running():
            return False
        pid = int(self.pidfile.read_text()) if self.pidfile.exists() else None
        self._rpc().supervisor.shutdown()
        deadline = time.monotonic() + STOP_WAIT_S * 2
        while pid and time.monotonic() < deadline and alive(pid):
            time.sleep(0.1)
        return True

    # groups ---------------------------------------------------------------------------------------

    def ensure_group(self, group: str, programs: Sequence[Program], env: Mapping[str, str]) -> None:
        """Run exactly these programs as ``group``: added if new, replaced if changed, started if stopped."""
        self.ensure_running()
        envfile = self.dir / "groups" / f"{group}.env.json"
        _write_private(envfile, orjson.dumps({k: v for k, v in env.items() if PASSED_ENV.match(k)}))
        config = self._group_config(group, programs, envfile)
        path = self.dir / "groups" / f"{group}.conf"
        rpc = self._rpc()
        present = group in {p["group"] for p in rpc.supervisor.getAllProcessInfo()}
        if present and path.exists() and path.read_text() == config:
            rpc.supervisor.startProcessGroup(group, True)
            return
        if present:
            self.remove_group(group)
        path.write_text(config)
        rpc.supervisor.reloadConfig()
        rpc.supervisor.addProcessGroup(group)  # autostart: each process starts now

    def remove_group(self, group: str) -> bool:
        """Stop a group's processes and forget the group; returns whether it existed."""
        if not self.running():
            return False
        rpc = self._rpc()
        if group not in {p["group"] for p in rpc.supervisor.getAllProcessInfo()}:
            return False
        rpc.supervisor.stopProcessGroup(group, True)
        rpc.supervisor.removeProcessGroup(group)
        (self.dir / "groups" / f"{group}.conf").unlink(missing_ok=True)
        return True

    # processes ------------------------------------------------------------------------------------

    def processes(self, group: str | None = None) -> list[ProcessInfo]:
        if not self.running():
            return []
        restarts = self.restart_counts()
        rows = []
        for info in self._rpc().supervisor.getAllProcessInfo():
            if group is not None and info["group"] != group:
                continue
            running = info["statename"] in ("RUNNING", "STARTING")
            rows.append(
                ProcessInfo(
                    group=info["group"],
                    name=info["name"],
                    state=info["statename"],
                    pid=info["pid"] or None if running else None,
                    uptime_s=info["now"] - info["start"] if info["statename"] == "RUNNING" else None,
                    restarts=restarts[info["name"]],
                    description=info["description"],
                    logfile=info["stdout_logfile"],
                )
            )
        return rows

    def process(self, group: str, name: str) -> ProcessInfo | None:
        return next((p for p in self.processes(group) if p.name == name), None)

    def start_process(self, group: str, name: str) -> None:
        self._rpc().supervisor.startProcess(f"{group}:{name}", True)

    def stop_process(self, group: str, name: str) -> None:
        self._rpc().supervisor.stopProcess(f"{group}:{name}", True)

    def restart_counts(self) -> Counter:
        """Unexpected exits per process since supervisord started (each one was, or is being, restarted)."""
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return Counter()
        return Counter(re.findall(r"exited: (\S+) \(.*; not expected\)", text))

    # configuration --------------------------------------------------------------------------------

    def _rpc(self):
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def _main_config(self) -> str:
        return f"""[unix_http_server]
file={self.socket}
chmod=0700

[supervisord]
logfile={self.log}
logfile_maxbytes=0
pidfile={self.pidfile}
childlogdir={self.logs}
directory={REPO_ROOT}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{self.socket}

[include]
files = {self.dir / "groups"}/*.conf
"""

    def _group_config(self, group: str, programs: Sequence[Program], envfile: Path) -> str:
        sections = []
        names = []
        for program in programs:
            full = f"{group}-{program.name}"
            process_name = f"{full}-%(process_num)d" if program.numprocs > 1 else full
            names.append(full)
            command = " ".join(
                _quote(a) for a in (sys.executable, "-m", "ops.launch", str(envfile), "--", *program.argv)
            )
            sections.append(f"""[program:{full}]
command={command}
process_name={process_name}
numprocs={program.numprocs}
directory={REPO_ROOT}
autostart=true
autorestart=true
startsecs={START_S}
startretries={START_RETRIES}
stopsignal=TERM
stopwaitsecs={STOP_WAIT_S}
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={self.logs / (process_name + ".log")}
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=2
""")
        sections.append(f"[group:{group}]\nprograms={','.join(names)}\n")
        return "\n".join(sections)


def _quote(arg: str) -> str:
    # supervisord splits commands with shlex and expands %(name)s: quote and escape both.
    return "'" + arg.replace("%", "%%").replace("'", "'\"'\"'") + "'"


def _write_private(path: Path, payload: bytes) -> None:
    # The environment holds secrets: the file is 0600 from its creation, with no readable window.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(payload)


def _socket_path(folder: Path) -> Path:
    # A unix socket's path is limited to 107 bytes; a deep clone gets one under /tmp instead.
    path = folder / "supervisor.sock"
    if len(str(path)) < 100:
        return path
    return Path("/tmp") / f"ewall-{hashlib.sha256(str(folder).encode()).hexdigest()[:16]}.sock"
