"""The embedded services for one machine: a project-local PostgreSQL + PostGIS cluster and the
tansu broker, both under ``.run/``. Used only when DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS are unset."""

import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from core.config import GENERATED_ENV_FILE, Settings
from ops.processes import Managed, SetupError, check_port_free, port_open, wait_until
from ops.supervise import Program, Supervisor

BROKER_GROUP = "broker"
DEMO_ACCOUNTS_FILE = GENERATED_ENV_FILE.parent / "demo-accounts.env"

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def ensure_generated_secrets() -> dict[str, str]:
    """Create .run/ewall.env with random secrets once; returns what it holds."""
    values = _read_env_file(GENERATED_ENV_FILE)
    wanted = {
        "EWALL_SECRET_KEY": lambda: secrets.token_urlsafe(48),
        "EWALL_PG_PASSWORD": lambda: secrets.token_urlsafe(24),
        "EWALL_ADMIN_PASSWORD": lambda: secrets.token_urlsafe(12),
        "EWALL_AUDIT_KEY": lambda: secrets.token_urlsafe(32),
    }
    missing = {key: make() for key, make in wanted.items() if key not in values}
    if missing:
        values.update(missing)
        _write_private(GENERATED_ENV_FILE, "".join(f"{k}={v}\n" for k, v in values.items()))
    return values


def write_demo_accounts(passwords: dict[str, str]) -> None:
    """The demo staff's generated passwords, readable by this user only."""
    _write_private(DEMO_ACCOUNTS_FILE, "".join(f"{user}={password}\n" for user, password in passwords.items()))


def read_demo_accounts() -> dict[str, str]:
    return _read_env_file(DEMO_ACCOUNTS_FILE)


def _write_private(path: Path, text: str) -> None:
    # Created 0600 in one step (O_EXCL on a fresh name), then renamed over the old file: no moment
    # when the secrets sit in a file others may read.
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(fresh, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    fresh.replace(path)


def _read_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


# PostgreSQL --------------------------------------------------------------------------------------


def _pg_dir(settings: Settings) -> Path:
    """Where the cluster lives. PostgreSQL runs as ``postgres`` when we are root, and that user cannot
    enter a clone in root's home or a ``mktemp -d`` folder (mode 0700), whatever the clone's own modes.
    So as root the cluster lives in the postgres user's home, one folder per clone, named after the
    clone's run folder; a cluster made by an earlier version under ``.run/pg`` is kept where it is."""
    legacy = settings.run_dir / "pg"
    if os.geteuid() != 0 or (legacy / "data" / "PG_VERSION").exists():
        return legacy
    clone = hashlib.sha256(str(settings.run_dir.resolve()).encode()).hexdigest()[:12]
    return Path(pwd.getpwnam("postgres").pw_dir) / "ewall" / clone


def _owned_by_postgres(*paths: Path) -> None:
    postgres = pwd.getpwnam("postgres")
    for path in paths:
        os.chown(path, postgres.pw_uid, postgres.pw_gid)


def _as_postgres(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; as root we run them as Debian's postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _pg(argv: list[str], what: str) -> None:
    result = subprocess.run(_as_postgres(argv), capture_output=True, text=True)
    if result.returncode != 0:
        raise SetupError(f"{what} failed:\n{result.stdout}{result.stderr}")


def ensure_postgres(settings: Settings) -> None:
    """Initialise (once) and start the embedded cluster, then make sure the database exists."""
    if not settings.embedded_database:
        return
    if not (PG_BIN / "initdb").exists():
        raise SetupError(
            "PostgreSQL 15 is not installed; run ./ewall (it installs postgresql-15 and "
            "postgresql-15-postgis-3) or apt-get install them"
        )
    pg_dir = _pg_dir(settings)
    data = pg_dir / "data"
    if (data / "PG_VERSION").exists():
        _start_postgres(settings, pg_dir, data)
        if not _accepts_password(settings):
            if pg_dir == settings.run_dir / "pg":
                raise SetupError(
                    f"the cluster in {pg_dir} refuses EWALL_PG_PASSWORD from {GENERATED_ENV_FILE}; "
                    "put back the password it was made with"
                )
            _set_aside(pg_dir, data)
    if not (data / "PG_VERSION").exists():
        _init_cluster(settings, pg_dir, data)
        _start_postgres(settings, pg_dir, data)
    _split_roles(settings)
    ensure_database(settings, settings.pg_database)


def _start_postgres(settings: Settings, pg_dir: Path, data: Path) -> None:
    if not _pg_running(data):
        check_port_free(settings.pg_port, owner="the embedded PostgreSQL", setting="EWALL_PG_PORT")
        options = (
            f"-p {settings.pg_port} -k {pg_dir / 'sock'} -c listen_addresses=127.0.0.1 "
            "-c shared_buffers=512MB -c max_wal_size=4GB -c max_connections=200"
        )
        _pg(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(pg_dir / "postgres.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            "starting PostgreSQL",
        )


def _accepts_password(settings: Settings) -> bool:
    try:
        psycopg.connect(admin_dsn(settings), connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        if "password authentication failed" in str(exc):
            return False
        raise
    return True


def _set_aside(pg_dir: Path, data: Path) -> None:
    """A cluster at this clone's place that refuses the clone's password was made by an earlier clone
    at the same path, since deleted with its .run/ewall.env (as root the cluster lives outside the
    clone, so it outlives it). Kept beside as <id>.earlier-clone, the one before it dropped, so the
    new clone starts afresh as it would anywhere else."""
    _pg([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], "stopping an earlier clone's PostgreSQL")
    aside = pg_dir.with_name(f"{pg_dir.name}.earlier-clone")
    shutil.rmtree(aside, ignore_errors=True)
    pg_dir.rename(aside)
    print(
        f"ewall: the PostgreSQL cluster in {pg_dir} refuses this clone's password: it was an earlier "
        f"clone's at this path. Moved to {aside}; starting a new one.",
        flush=True,
    )


def _init_cluster(settings: Settings, pg_dir: Path, data: Path) -> None:
    if not settings.pg_password:
        raise SetupError("EWALL_PG_PASSWORD is empty; ./ewall generates it into .run/ewall.env")
    (pg_dir / "sock").mkdir(mode=0o700, parents=True, exist_ok=True)
    pwfile = pg_dir / "initdb.pw"
    pwfile.touch(mode=0o600)
    # Which clone a cluster outside it belongs to, for whoever finds it there.
    (pg_dir / "clone").write_text(f"{settings.run_dir.resolve()}\n")
    if os.geteuid() == 0:
        _owned_by_postgres(pg_dir.parent, pg_dir, pg_dir / "sock", pwfile)
    pwfile.write_text(settings.pg_password + "\n")
    try:
        _pg(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                settings.pg_user,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            "initdb",
        )
    finally:
        pwfile.unlink(missing_ok=True)


def _pg_running(data: Path) -> bool:
    result = subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "status"]), capture_output=True)
    return result.returncode == 0


def admin_dsn(settings: Settings, database: str = "postgres") -> str:
    """A libpq DSN for maintenance connections (create/drop database)."""
    url = settings.db_url.replace("postgresql+psycopg://", "postgresql://")
    return url.rsplit("/", 1)[0] + "/" + database


def ensure_database(settings: Settings, name: str) -> None:
    """The database, owned by the app's role, with PostGIS (which only a superuser may create) and a
    public schema the app may create in but does not own (a schema's owner may drop any table in it)."""
    with psycopg.connect(admin_dsn(settings), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    app = _ident(settings.pg_user)
    superuser_sql(
        settings,
        name,
        f"""CREATE EXTENSION IF NOT EXISTS postgis;
        ALTER SCHEMA public OWNER TO {_ident(_superuser())};
        GRANT USAGE, CREATE ON SCHEMA public TO {app};""",
    )


# The audit chain's guard ---------------------------------------------------------------------------
# The app's role is no superuser and does not own audit_log: AUDIT_OWNER (a role nobody logs in as)
# owns the table, its sequence and its trigger function, and the app may only read and append. So the
# app's role can neither switch the append-only trigger off nor TRUNCATE, UPDATE, DELETE or DROP.
AUDIT_OWNER = "ewall_audit"


def _superuser() -> str:
    # The OS user PostgreSQL runs as, reached over the local socket by peer authentication: the
    # superuser has no password that the app could read anywhere.
    return "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def superuser_sql(settings: Settings, database: str, statements: str) -> str:
    """Run SQL as the embedded cluster's superuser (psql over the local socket); returns its output."""
    argv = [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    argv += ["-h", str(_pg_dir(settings) / "sock"), "-p", str(settings.pg_port), "-U", _superuser(), "-d", database]
    result = subprocess.run(_as_postgres(argv), input=statements, capture_output=True, text=True, cwd="/")
    if result.returncode != 0:
        raise SetupError(f"SQL as the superuser {_superuser()} on {database} failed:\n{result.stderr}")
    return result.stdout


def _split_roles(settings: Settings) -> None:
    """The superuser apart from the app's role, and the app's role no superuser (idempotent).

    initdb made the app's role the cluster's bootstrap superuser (clusters made before the audit
    guard, and new ones alike): while it still is, it creates the OS user's superuser role; then that
    role demotes it. PostgreSQL 15 allows demoting the bootstrap superuser; 16 and later do not, so a
    cluster made there would need initdb -U <superuser> and the app's role created beside it."""
    try:
        superuser_sql(settings, "postgres", "SELECT 1")
    except SetupError:
        with psycopg.connect(admin_dsn(settings), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} SUPERUSER LOGIN").format(sql.Identifier(_superuser())))
    superuser_sql(
        settings,
        "postgres",
        # CREATEROLE too: with it the app's role could grant itself AUDIT_OWNER.
        f"""ALTER ROLE {_ident(settings.pg_user)} NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS CREATEDB;
        SELECT 'CREATE ROLE {AUDIT_OWNER} NOLOGIN' WHERE NOT EXISTS
            (SELECT FROM pg_roles WHERE rolname = '{AUDIT_OWNER}') \\gexec""",
    )


def secure_audit_log(settings: Settings, database: str) -> None:
    """Hand audit_log, its sequence and trigger function to AUDIT_OWNER; the app may SELECT and INSERT
    (idempotent: run after every migration). A revision that must alter audit_log later cannot run as
    the app's role: see README, "Audit chain"."""
    app = _ident(settings.pg_user)
    superuser_sql(
        settings,
        database,
        f"""ALTER TABLE audit_log OWNER TO {AUDIT_OWNER};
        ALTER FUNCTION audit_log_append_only() OWNER TO {AUDIT_OWNER};
        REVOKE ALL ON audit_log FROM PUBLIC, {app};
        GRANT SELECT, INSERT ON audit_log TO {app};
        SELECT format('GRANT USAGE ON SEQUENCE %s TO %s', pg_get_serial_sequence('audit_log', 'id'), '{app}')
        \\gexec""",
    )


def drop_database(settings: Settings, name: str) -> None:
    # As the superuser: FORCE ends every session on the database, and the app's role may not end the
    # superuser's own (a psql of ensure_database's may still be on its way out).
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    superuser_sql(settings, "postgres", statement.as_string())


def stop_postgres(settings: Settings) -> bool:
    data = _pg_dir(settings) / "data"
    if not settings.embedded_database or not (data / "PG_VERSION").exists() or not _pg_running(data):
        return False
    _pg([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], "stopping PostgreSQL")
    return True


def restart_postgres(settings: Settings) -> None:
    """``pg_ctl restart -m fast``: every connection is cut, as when the database fails over."""
    pg_dir = _pg_dir(settings)
    # With its log named: otherwise the new server writes to our pipe, and waiting for it never ends.
    argv = [str(PG_BIN / "pg_ctl"), "-D", str(pg_dir / "data"), "-l", str(pg_dir / "postgres.log")]
    _pg([*argv, "-m", "fast", "-w", "-t", "60", "restart"], "restarting PostgreSQL")


def postgres_status(settings: Settings) -> str:
    if not settings.embedded_database:
        return "external (DATABASE_URL)"
    data = _pg_dir(settings) / "data"
    running = (data / "PG_VERSION").exists() and _pg_running(data)
    return f"running on 127.0.0.1:{settings.pg_port}" if running else "stopped"


# Broker ------------------------------------------------------------------------------------------


def ensure_broker(settings: Settings) -> None:
    """The embedded broker, run by the process supervisor (restarted, with its topics, if it dies)."""
    if not settings.embedded_broker:
        return
    stop_unsupervised(settings)
    supervisor = Supervisor(settings)
    broker = supervisor.process(BROKER_GROUP, f"{BROKER_GROUP}-tansu")
    if broker is None or broker.pid is None:
        check_port_free(settings.kafka_port, owner="the embedded broker", setting="EWALL_KAFKA_PORT")
    supervisor.ensure_group(BROKER_GROUP, [Program("tansu", ("broker",))], os.environ)
    wait_until(lambda: port_open(settings.kafka_port), timeout_s=30, what="the broker")


def stop_unsupervised(settings: Settings) -> list[str]:
    """Stop processes an earlier version started by pidfile, before the supervisor ran them."""
    pids = settings.run_dir / "pids"
    stopped = [p.stem for p in sorted(pids.glob("*.pid")) if Managed(p.stem, settings.run_dir).stop()]
    return stopped
