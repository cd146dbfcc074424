"""Simulate a supervised fleet (``./ewall simulate``).

  to files:       ./ewall simulate --supervisees 5000 --days 2 --out sim/ [--format csv|jsonl|geojson]
  to a platform:  ./ewall simulate --supervisees 200 --speed 60x [--protocol native|osmand|owntracks]
  as load:        ./ewall simulate --supervisees 20000 --rate 50000/s --duration 60s
  as the demo:    ./ewall simulate --supervisees 200 --speed 1x --forever --demo   (what ./ewall up runs)

Files: fixes, sightings.jsonl, rollcalls.jsonl, ground_truth.jsonl (labelled episodes) and fleet.json
(people, phones, zones). Sending registers the fleet's supervisees, phones, zones, a gateway and
cameras through the portal API first (once; kept in .run/simulator-<seed>-<size>.json)."""

import argparse
import asyncio
import math
import re
import sys
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from simulators import city, demo, fleet, outputs, phones, platform, rollcall_plans, rollcalls, senders, stream

DURATION = re.compile(r"^([0-9]*\.?[0-9]+)\s*([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


def duration_s(text: str) -> float:
    match = DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 15m, 2h or 1.5d")
    return float(match[1]) * UNITS[match[2]]


def speed(text: str) -> float:
    if text.strip().lower() in ("max", "inf"):
        return math.inf
    value = text.strip().lower().removesuffix("x")
    try:
        factor = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a speed such as 1x, 60x or max") from None
    if factor <= 0:
        raise argparse.ArgumentTypeError("speed must be positive")
    return factor


def rate(text: str) -> float:
    value = text.strip().lower().removesuffix("/s")
    try:
        return float(value.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate such as 50000/s") from None


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    fleet_options = p.add_argument_group("fleet")
    fleet_options.add_argument("--supervisees", type=int, default=1000)
    fleet_options.add_argument("--seed", type=int, default=1, help="same seed, same fleet and same data")
    fleet_options.add_argument(
        "--city", default="benxi", help="benxi, gaoqing, bbox:west,south,east,north, or a GeoJSON file of districts"
    )
    fleet_options.add_argument("--scenario-share", type=float, default=0.2, help="share acting out labelled scenarios")
    fleet_options.add_argument("--episode-rate", type=float, default=1.0, help="share of days they act them out")
    when = p.add_argument_group("time")
    when.add_argument("--start", default=None, help="ISO-8601 start (default: now when sending in real time)")
    when.add_argument("--days", type=float, default=None, help="simulated days (files: 1 by default)")
    when.add_argument(
        "--duration", type=duration_s, default=None, help="simulated time (90s, 15m, 2h); load: wall time"
    )
    when.add_argument("--forever", action="store_true", help="keep sending until interrupted")
    files = p.add_argument_group("files")
    files.add_argument("--out", type=Path, default=None, help="write files to this directory instead of sending")
    files.add_argument("--format", choices=outputs.FORMATS, default="csv")
    files.add_argument("--truth-columns", action="store_true", help="add the true position to every fix")
    sending = p.add_argument_group("sending to a platform")
    sending.add_argument("--protocol", choices=senders.PROTOCOLS, default="native")
    sending.add_argument("--no-sightings", action="store_true", help="do not post CCTV sightings and check-ins")
    sending.add_argument(
        "--demo",
        action="store_true",
        help="every officer's caseload breaks a rule at once (a yellow and a red alert), then a few times an hour",
    )
    sending.add_argument(
        "--no-rollcalls", action="store_true", help="do not answer the platform's roll calls (real time only)"
    )
    sending.add_argument(
        "--rollcall-share",
        type=float,
        default=0.0,
        help="share of people without a scenario who answer roll calls late, never, or from afar (人机分离)",
    )
    sending.add_argument(
        "--ground-truth",
        type=Path,
        default=None,
        help="labels of a run against a platform (default .run/simulator-<seed>-<size>-ground_truth.jsonl)",
    )
    sending.add_argument("--speed", type=speed, default=60.0, help="1x real time, 60x, or max (default 60x)")
    sending.add_argument("--rate", type=rate, default=None, help="load mode: hold this many fixes/s (50000/s)")
    sending.add_argument("--ingest-url", default=None)
    sending.add_argument("--portal-url", default=None)
    sending.add_argument("--district", default=None, help="district code to register in (default SIM<seed>)")
    sending.add_argument("--user", default="admin", help="portal account that registers the fleet")
    sending.add_argument(
        "--password", default=None, help="its password (default: the generated one of admin or a demo account)"
    )
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str], settings, password_of: Callable[[str], str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ewall simulate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    args = add_arguments(parser).parse_args(argv)
    try:
        area = city.parse_city(args.city)
        people = fleet.build(area, args.supervisees, seed=args.seed, scenario_share=args.scenario_share)
        start = datetime.fromisoformat(args.start) if args.start else None
    except ValueError as exc:
        print(f"ewall simulate: {exc}", file=sys.stderr)
        return 2
    if start is not None and start.tzinfo is None:
        print("ewall simulate: --start needs a time zone, e.g. 2026-11-23T00:00:00+08:00", file=sys.stderr)
        return 2
    progress = not args.no_progress
    if args.out is not None:
        return _to_files(args, people, start, progress)
    ingest_url = args.ingest_url or f"http://{settings.host}:{settings.ingest_port}"
    portal_url = args.portal_url or f"http://{settings.host}:{settings.portal_port}"
    try:
        return asyncio.run(_to_platform(args, people, start, ingest_url, portal_url, settings, password_of, progress))
    except platform.PlatformError as exc:
        print(f"ewall simulate: {exc}", file=sys.stderr)
        return 2


def _to_files(args: argparse.Namespace, people: fleet.Fleet, start: datetime | None, progress: bool) -> int:
    simulated_s = args.duration or (args.days or 1.0) * 86_400
    start = start or stream.local_midnight(datetime.now(UTC)) - timedelta(seconds=simulated_s)
    sink = outputs.FileSink(people, args.out, args.format, truth_columns=args.truth_columns)
    began = time.perf_counter()
    chunks = stream.run(people, start=start, duration_s=simulated_s, episode_rate=args.episode_rate)
    from tqdm import tqdm

    with tqdm(total=int(simulated_s), desc="simulating", unit="sim-s", disable=not progress) as bar:
        done = 0.0
        for chunk in chunks:
            sink.write(chunk)
            now = min(chunk.until - start.timestamp(), simulated_s)
            bar.update(int(now - done))
            bar.set_postfix(fixes=sink.counts["fixes"])
            done = max(done, now)
    counts = sink.close()
    elapsed = time.perf_counter() - began
    print(
        orjson.dumps(
            counts
            | {
                "directory": str(args.out),
                "seconds": round(elapsed, 2),
                "fixes_per_s": round(counts["fixes"] / elapsed),
            }
        ).decode()
    )
    return 0


async def _to_platform(
    args: argparse.Namespace,
    people: fleet.Fleet,
    start: datetime | None,
    ingest_url: str,
    portal_url: str,
    settings,
    password_of: Callable[[str], str],
    progress: bool,
) -> int:
    password = args.password or password_of(args.user)
    registration = await platform.register(
        people,
        portal_url,
        args.user,
        password,
        district_code=args.district or f"SIM{args.seed}",
        state_file=platform.state_path(settings.run_dir, args.seed, args.supervisees),
        progress=progress,
    )
    sender = senders.Sender(people, registration, ingest_url, args.protocol)
    now = datetime.now(UTC)
    try:
        if args.rate is not None:
            wall_s = args.duration or 60.0
            fixes_per_day = people.size * 86_400 * float((1 / people.gps_interval_s).mean())
            days = math.ceil(args.rate * wall_s / fixes_per_day) + 1
            chunks = stream.run(people, start=start or now - timedelta(days=days), duration_s=None)
            result = await senders.load(chunks, sender, rate=args.rate, duration_s=wall_s, progress=progress)
            print(orjson.dumps(result).decode())
            return 0 if result["failed"] == 0 else 1
        simulated_s = None if args.forever else (args.duration or (args.days or 1.0) * 86_400)
        if start is None:
            # Real time starts now; faster replays end now, so no fix is from the future.
            start = now if args.speed == 1 or simulated_s is None else now - timedelta(seconds=simulated_s)
        truth = args.ground_truth or settings.run_dir / f"simulator-{args.seed}-{args.supervisees}-ground_truth.jsonl"
        async with platform.Portal(portal_url, args.user, password) as portal:
            schedule = None
            if args.demo:
                caseloads = await platform.caseloads(portal, registration)
                schedule = demo.Schedule(people, caseloads, start.timestamp(), stream.local_midnight(start).timestamp())
            chunks = stream.run(
                people, start=start, duration_s=simulated_s, episode_rate=args.episode_rate, demo=schedule
            )
            async with _answering(args, people, registration, portal, portal_url, sender, settings, truth) as answerer:
                if answerer is not None:
                    chunks = rollcalls.observed(chunks, answerer)

                async def on_episodes(episodes: list[dict]) -> None:
                    # The stream's own roll calls are files only (rollcalls.jsonl): the platform's roll
                    # calls are labelled by the answerer, with their ids.
                    labels = [e for e in episodes if not e["kind"].startswith("rollcall_")]
                    with truth.open("ab") as sink:
                        sink.write(b"".join(orjson.dumps(e) + b"\n" for e in labels))
                    for episode in episodes:
                        if episode["kind"] == "approved_leave":
                            await platform.approve_leave(portal, registration, people, episode)

                tally = await senders.replay(
                    _quiet_sightings(chunks) if args.no_sightings else chunks,
                    sender,
                    speed=args.speed,
                    on_episodes=on_episodes,
                    progress=progress,
                )
    finally:
        await sender.close()
    print(
        orjson.dumps(
            {"accepted": tally.accepted, "refused": tally.rejected, "failed": tally.failed, "reasons": tally.reasons}
        ).decode()
    )
    return 0 if tally.failed == 0 else 1


@asynccontextmanager
async def _answering(args, people, registration, portal, portal_url, sender, settings, truth: Path):
    """The roll-call answerer, when the fleet runs in real time (a replay of the past or at another speed
    cannot answer the platform's roll calls, which are issued now)."""
    if args.no_rollcalls or args.speed != 1:
        yield None
        return
    roles = rollcall_plans.roles(
        people,
        demo.ROLLCALL_SHARE if args.demo else args.rollcall_share,
        each_at_least=1 if args.demo else 0,
    )
    async with rollcalls.answering(
        people,
        registration,
        portal,
        portal_url,
        post_sightings=sender.sightings,
        roles=roles,
        truth=truth,
        sessions_file=phones.state_path(settings.run_dir, args.seed, args.supervisees),
        opening_district_id=registration.district_id if args.demo else None,
    ) as answerer:
        yield answerer


def _quiet_sightings(chunks):
    for chunk in chunks:
        chunk.sightings = chunk.sightings[:0]
        yield chunk
