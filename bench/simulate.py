"""Simulator throughput in file mode: fixes generated and written as CSV per second, for a fleet
streamed through a whole day, against a naive generator in the same run (one person and one fix at
a time in Python, written with the csv module). Last stdout line: one JSON object."""

import csv
import math
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import common
from simulators import city, fleet, outputs, stream


def vectorised(people: fleet.Fleet, directory: Path, duration_s: float) -> float:
    sink = outputs.FileSink(people, directory, "csv")
    began = time.perf_counter()
    for chunk in stream.run(people, start=datetime(2026, 11, 15, 16, tzinfo=UTC), duration_s=duration_s):
        sink.write(chunk)
    counts = sink.close()
    elapsed = time.perf_counter() - began
    print(f"{counts['fixes']:,} fixes in {elapsed:.1f} s", file=sys.stderr)
    return counts["fixes"] / elapsed


def naive(people: fleet.Fleet, path: Path, duration_s: float) -> float:
    """Each fix on its own: the person's position by walking their stops, Gaussian noise, a CSV row."""
    rng = random.Random(1)
    began = time.perf_counter()
    count = 0
    with path.open("w", newline="") as file:
        out = csv.writer(file)
        for p in range(people.size):
            interval = float(people.gps_interval_s[p])
            home = people.home[p]
            t = 0.0
            while t < duration_s:
                x = float(home[0]) + 12 * math.sin(t / 700)
                y = float(home[1]) + 12 * math.cos(t / 900)
                sigma = float(people.accuracy_median_m[p]) / 1.515
                lon, lat = people.city.to_lonlat(x + rng.gauss(0, sigma), y + rng.gauss(0, sigma))
                out.writerow([people.codes[p], people.device_keys[p], round(t, 3), float(lat), float(lon), 10.0])
                count += 1
                t += interval
    return count / (time.perf_counter() - began)


def main(quick: bool = False) -> int:
    people = fleet.build(city.PRESETS["benxi"], 1000 if quick else 5000, seed=1)
    directory = Path(tempfile.mkdtemp(prefix="ewall-bench-sim-"))
    try:
        baseline = naive(people, directory / "naive.csv", 3600)
        value = vectorised(people, directory / "sim", 86_400)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    common.report(
        "simulate",
        "fixes_generated_per_s",
        value,
        "fixes/s",
        "naive: one fix at a time in Python, csv module",
        baseline,
        ">= 500000 fixes/s in file mode",
    )
    return 0
