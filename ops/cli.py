"""``./ewall``: set up, run, test, seed, simulate and benchmark the platform."""

import argparse
import getpass
import importlib
import subprocess
import sys

import kafka.errors
import orjson
import psycopg
import sqlalchemy.exc

from caseload import accounts
from core import audit, bus, dlq, health
from core.config import REPO_ROOT, get_settings
from core.db import session_scope
from core.errors import NotFound, first_line
from ops import embedded, seed, stack
from ops.processes import SetupError
from ops.supervise import START_RETRIES, START_S, Program, Supervisor

BENCHMARKS = ("ingest", "osmand", "simulate", "geofence", "alert-quality", "alert-latency", "faults", "map", "rollcall")


def _say(message: str) -> None:
    print(f"ewall: {message}", flush=True)


def _admin_password() -> str:
    embedded.ensure_generated_secrets()
    return get_settings().admin_password


def _password_of(username: str) -> str:
    """The generated password of the admin or of a demo account (the simulator signs in with these)."""
    if username == seed.ADMIN_USERNAME:
        return _admin_password()
    return embedded.read_demo_accounts().get(username, "")


def _prepare() -> None:
    """Secrets, database, broker, schema, topics and the bootstrap admin."""
    embedded.ensure_generated_secrets()
    get_settings.cache_clear()
    settings = get_settings()
    database = "embedded PostgreSQL/PostGIS" if settings.embedded_database else "external database (DATABASE_URL)"
    broker = "embedded broker" if settings.embedded_broker else "external broker (KAFKA_BOOTSTRAP_SERVERS)"
    _say(f"using the {database} and the {broker}")
    stack.prepare_services(settings)
    with session_scope() as session:
        seed.ensure_admin(session, _admin_password())


def cmd_up(args: argparse.Namespace) -> int:
    _prepare()
    settings = get_settings()
    fleet = []
    if not args.no_fleet:
        _seed()
        argv = (sys.executable, "-m", "ops.cli", "simulate", "--supervisees", str(args.supervisees), "--speed", "1x")
        argv = (*argv, "--user", seed.SIMULATOR_USERNAME, "--district", seed.DEMO_COUNTY[0])
        # --demo: each demo officer sees a yellow and a red alert of their own caseload arrive at once,
        # then a few an hour (a newcomer learns nothing from a quiet map).
        fleet = [Program("simulator", (*argv, "--forever", "--demo", "--no-progress"))]
    _say("starting the ingest app, the portal and the workers under the process supervisor")
    for process in stack.start(settings, extra=fleet):
        _say(f"  {process.name:18s} {process.state.lower()} (pid {process.pid})")
    if fleet:
        _say(f"  the simulator runs {args.supervisees} supervisees' phones in real time; each demo officer's")
        _say("  caseload breaks a rule within the first two minutes (a yellow and a red alert), then a few an hour")
    print(f"""
  Officer portal   http://{settings.host}:{settings.portal_port}/        (API docs: /docs, readiness: /ready)
  Device ingest    http://{settings.host}:{settings.ingest_port}/api/v1/fixes
  Admin login      admin / {_admin_password()}""")
    if not args.no_fleet:
        print(f"  Demo staff       {_demo_logins()}   (also in {embedded.DEMO_ACCOUNTS_FILE})")
    print(f"""  First sign-in    each person sets their own password; forgotten one: ./ewall passwd USER
  Logs             {settings.run_dir / "logs"}      Stop: ./ewall down      Status: ./ewall status
""")
    return 0


def _demo_logins() -> str:
    people = {u: p for u, p in embedded.read_demo_accounts().items() if u != seed.SIMULATOR_USERNAME}
    return ", ".join(f"{user} / {password}" for user, password in people.items())


def _seed() -> None:
    legacy = not embedded.DEMO_ACCOUNTS_FILE.exists()
    with session_scope() as session:
        admin = seed.ensure_admin(session, _admin_password())
        county, passwords = seed.seed_demo(session, admin=admin)
        if legacy:
            actor = f"cli:{getpass.getuser()}"
            passwords |= seed.reset_demo_staff(session, actor=actor, just_created=passwords)
    if passwords:
        embedded.write_demo_accounts(embedded.read_demo_accounts() | passwords)
    _say(f"demo county {county.name} ready with its staff")


def cmd_seed(_: argparse.Namespace) -> int:
    _prepare()
    _seed()
    print(f"  Demo staff       {_demo_logins()}")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    embedded.ensure_generated_secrets()
    get_settings.cache_clear()
    settings = get_settings()
    if settings.embedded_database:
        embedded.ensure_postgres(settings)
    with session_scope() as session:
        try:
            password = accounts.reset_password(session=session, username=args.user, actor=f"cli:{getpass.getuser()}")
        except NotFound as exc:
            _say(exc.message)
            return 1
    print(f"  {args.user} / {password}   (shown once; to be changed at the next sign-in; their sessions have ended)")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulators import cli as simulator_cli  # numpy, shapely and Arrow: loaded only for this command

    return simulator_cli.main(args.passed_on, get_settings(), _password_of)


def cmd_down(_: argparse.Namespace) -> int:
    settings = get_settings()
    for name in embedded.stop_unsupervised(settings):
        _say(f"stopped {name}")
    if Supervisor(settings).shutdown():
        _say("stopped every supervised process (apps, workers, broker, simulator) and the supervisor")
    if embedded.stop_postgres(settings):
        _say("stopped PostgreSQL")
    return 0


def cmd_status(_: argparse.Namespace) -> int:
    settings = get_settings()
    print(f"  {'postgres':22s} {embedded.postgres_status(settings)}")
    if not settings.embedded_broker:
        print(f"  {'broker':22s} external ({', '.join(settings.bootstrap_servers)})")
    supervisor = Supervisor(settings)
    processes = supervisor.processes()
    if not processes:
        print(f"  {'processes':22s} none running (start them with ./ewall up)")
    for p in processes:
        up = f"up {_duration(p.uptime_s)}" if p.uptime_s is not None else ""
        print(f"  {p.name:22s} {p.state:9s} {f'pid {p.pid}' if p.pid else '':10s} {up:14s} restarts {p.restarts}")
    for p in processes:
        if p.state == "FATAL":
            print(
                f"ewall: {p.name} gave up after {START_RETRIES} failures in a row, each within {START_S} s of "
                f"starting; its log is {p.logfile}: fix the cause, then run ./ewall up",
                file=sys.stderr,
            )
    try:
        lags = health.group_lags(settings)
        print("  consumer lag           " + ", ".join(f"{group} {lag} records" for group, lag in lags.items()))
    except bus.BrokerUnavailable as exc:
        print(f"  consumer lag           unknown: {exc}")
    return 0


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def cmd_migrate(_: argparse.Namespace) -> int:
    _prepare()
    _say("schema is at the latest revision")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    embedded.ensure_generated_secrets()
    get_settings.cache_clear()
    settings = get_settings()
    embedded.ensure_postgres(settings)
    embedded.ensure_broker(settings)
    for check in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        _say(" ".join(check))
        if subprocess.run([sys.executable, "-m", *check], cwd=REPO_ROOT).returncode != 0:
            _say("lint failed: run '.venv/bin/ruff format . && .venv/bin/ruff check --fix .' and commit")
            return 1
    return subprocess.run([sys.executable, "-m", "pytest", *args.passed_on], cwd=REPO_ROOT).returncode


def cmd_bench(args: argparse.Namespace) -> int:
    embedded.ensure_generated_secrets()
    module = importlib.import_module(f"bench.{args.name.replace('-', '_')}")
    return module.main(quick=args.quick)


def cmd_audit(args: argparse.Namespace) -> int:
    settings = get_settings()
    with session_scope() as session:
        problems = audit.verify(session)
        powers = audit.tamper_powers(session)
        if not problems:
            audit.checkpoint(session)
    for problem in problems:
        print(problem)
    _say("audit chain intact" if not problems else f"audit chain BROKEN at {len(problems)} place(s)")
    _say(f"checkpoints of its head are kept in {settings.audit_anchor_file}")
    if powers:
        _say(
            f"WARNING: the app's database role can still tamper with audit_log ({', '.join(powers)}); "
            "hand the table to its own owner (README, 'Audit chain')"
        )
    return 0 if not problems and not powers else 1


def _source_offset(text: str) -> tuple[int | None, int]:
    partition, _, offset = text.rpartition(":")
    try:
        return (int(partition) if partition else None), int(offset)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not OFFSET or PARTITION:OFFSET") from None


def cmd_dlq(args: argparse.Namespace) -> int:
    try:
        topics = dlq.topics_named(args.topic)
    except ValueError as exc:
        _say(str(exc))
        return 2
    with session_scope() as session:
        entries = dlq.list_entries(session=session, topics=topics)
        if args.action == "list":
            for entry in entries:
                _print_entry(entry, as_json=args.json)
            _say(f"{len(entries)} dead-lettered record(s) in {', '.join(bus.dlq(t) for t in topics)}")
            return 0
        chosen = dlq.select_entries(entries, offsets=None if args.all else args.offset)
        publisher = bus.Publisher()
        try:
            result, _ = dlq.replay(
                session=session, publisher=publisher, entries=chosen, actor=f"cli:{getpass.getuser()}"
            )
        finally:
            publisher.close()
    _say(
        f"replayed {result.replayed} record(s) to their source topics; "
        f"{result.already} of the {result.matched} selected had been replayed before and were skipped"
    )
    return 0 if result.matched else 1


def _print_entry(entry: dlq.Entry, *, as_json: bool) -> None:
    if as_json:
        print(orjson.dumps(entry.as_dict()).decode())
        return
    replayed = f"replayed {entry.replayed_at:%Y-%m-%d %H:%M:%S} by {entry.replayed_by}" if entry.replayed_at else "new"
    print(
        f"{entry.topic} {entry.partition}:{entry.offset}  group={entry.group}  failed_at={entry.failed_at}  {replayed}"
    )
    print(f"    error: {entry.error}")
    print(f"    key={entry.as_dict()['key']}  value: {dlq.preview(entry.value)}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ewall", description="ewall community-corrections supervision platform")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="set up and start everything, with a simulated demo fleet")
    up.add_argument("--supervisees", type=int, default=200, help="size of the simulated demo caseload")
    up.add_argument("--no-fleet", action="store_true", help="do not start the simulated phones")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything ./ewall started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="show what runs where").set_defaults(func=cmd_status)
    sub.add_parser("migrate", help="bring the schema to the latest revision").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="create the admin, the demo county and its staff").set_defaults(func=cmd_seed)
    passwd = sub.add_parser("passwd", help="reset one account's password (generated, to be changed at next sign-in)")
    passwd.add_argument("user", help="the account's username")
    passwd.set_defaults(func=cmd_passwd)
    simulate = sub.add_parser(
        "simulate", help="simulate a supervised fleet: to files, to a platform, or as load (--help)", add_help=False
    )
    simulate.set_defaults(func=cmd_simulate, passed_on=[])
    test = sub.add_parser("test", help="lint and run the whole test suite; other options go to pytest")
    test.set_defaults(func=cmd_test, passed_on=[])
    bench = sub.add_parser("bench", help="run one benchmark; prints one JSON line")
    bench.add_argument("name", choices=BENCHMARKS, help="which benchmark")
    bench.add_argument("--quick", action="store_true")
    bench.set_defaults(func=cmd_bench)
    auditing = sub.add_parser("audit", help="audit-log tools")
    auditing.add_argument("action", choices=["verify"])
    auditing.set_defaults(func=cmd_audit)
    _dlq_parser(sub)
    return p


def _dlq_parser(sub) -> None:
    dead = sub.add_parser("dlq", help="dead-lettered records: list them, replay them after a fix")
    actions = dead.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list dead-lettered records with their error")
    listing.add_argument("--topic", help=f"one source topic ({', '.join(bus.TOPICS)}); default: all")
    listing.add_argument("--json", action="store_true", help="one JSON object per line (value in base64)")
    replaying = actions.add_parser("replay", help="republish dead-lettered records to their source topic, once")
    replaying.add_argument("--topic", help="one source topic; default: all")
    which = replaying.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--offset",
        type=_source_offset,
        nargs="+",
        metavar="[PARTITION:]OFFSET",
        help="the source offsets shown by 'dlq list'",
    )
    which.add_argument("--all", action="store_true", help="every record not replayed yet")
    dead.set_defaults(func=cmd_dlq)


def main(argv: list[str] | None = None) -> int:
    args, extra = parser().parse_known_args(argv)
    if extra and args.command not in ("test", "simulate"):
        parser().error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command in ("test", "simulate"):
        args.passed_on = extra  # pytest's options; the simulator's, parsed by simulators.cli
    try:
        return args.func(args)
    except SetupError as exc:
        print(f"ewall: {exc}", file=sys.stderr)
        return 2
    except (sqlalchemy.exc.OperationalError, psycopg.OperationalError) as exc:
        reason = first_line(exc)
        print(
            f"ewall: cannot reach the database ({reason}); check DATABASE_URL, or unset it to use the embedded PostGIS",
            file=sys.stderr,
        )
        return 2
    except kafka.errors.KafkaError:
        print(
            f"ewall: cannot reach the broker at {', '.join(get_settings().bootstrap_servers)}; check "
            "KAFKA_BOOTSTRAP_SERVERS, or unset it to use the embedded broker",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
