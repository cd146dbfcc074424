"""Simulated data as files: fixes (CSV, JSONL or GeoJSON), sightings, roll calls, the ground truth
and the fleet (people, phones, zones). CSV goes through Arrow's writer, which formats columns in C:
Python-level formatting would cost more than simulating."""

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv

from simulators import zones
from simulators.fleet import DATUMS, SCENARIOS, Fleet
from simulators.stream import SOURCE_NAMES, Chunk

FORMATS = ("csv", "jsonl", "geojson")
CSV_BATCH_ROWS = 65_536


class FileSink:
    """Writes a run's chunks into a directory; ``close()`` finishes the files and returns counts."""

    def __init__(self, fleet: Fleet, directory: Path, fmt: str = "csv", *, truth_columns: bool = False):
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        directory.mkdir(parents=True, exist_ok=True)
        self.fleet, self.fmt, self.truth_columns = fleet, fmt, truth_columns
        self.directory = directory
        self._codes = pa.array(fleet.codes)
        self._keys = pa.array(fleet.device_keys)
        self._sources, self._datums = pa.array(SOURCE_NAMES), pa.array(DATUMS)
        self._fixes = (directory / f"fixes.{fmt}").open("wb")
        self._csv: pa_csv.CSVWriter | None = None
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="csv")
        self._writing: Future | None = None
        self._truth = (directory / "ground_truth.jsonl").open("wb")
        self._sightings = (directory / "sightings.jsonl").open("wb")
        self._rollcalls = (directory / "rollcalls.jsonl").open("wb")
        self._any_feature = False
        self.counts = {"fixes": 0, "episodes": 0, "sightings": 0, "rollcalls": 0}
        if fmt == "geojson":
            self._fixes.write(b'{"type":"FeatureCollection","features":[\n')
        write_fleet(fleet, directory / "fleet.json")

    def write(self, chunk: Chunk) -> None:
        fixes = chunk.fixes
        if len(fixes):
            if self.fmt == "csv":
                table = self._table(fixes)
                if self._csv is None:
                    # Arrow formats a batch at a time; its default of 1,024 rows costs a fifth more per row.
                    options = pa_csv.WriteOptions(batch_size=CSV_BATCH_ROWS)
                    self._csv = pa_csv.CSVWriter(self._fixes, table.schema, write_options=options)
                # Arrow formats without the GIL: the other core writes while this one simulates.
                if self._writing is not None:
                    self._writing.result()
                self._writing = self._writer.submit(self._csv.write_table, table)
            else:
                self._fixes.write(b"".join(self._records(fixes)))
        for episode in chunk.episodes:
            self._truth.write(orjson.dumps(episode) + b"\n")
        for s in chunk.sightings.tolist():
            self._sightings.write(
                orjson.dumps(
                    {
                        "person_code": self.fleet.codes[s[0]],
                        "camera": int(s[1]),
                        "ts": s[2],
                        "confidence": round(s[3], 3),
                        "kind": "report" if s[4] else "sighting",
                    }
                )
                + b"\n"
            )
        for r in chunk.rollcalls.tolist():
            answered = None if np.isnan(r[2]) else r[2]
            self._rollcalls.write(
                orjson.dumps({"supervisee": self.fleet.codes[r[0]], "issued": r[1], "answered": answered}) + b"\n"
            )
        self.counts["fixes"] += len(fixes)
        self.counts["episodes"] += len(chunk.episodes)
        self.counts["sightings"] += len(chunk.sightings)
        self.counts["rollcalls"] += len(chunk.rollcalls)

    def _table(self, fixes: np.ndarray) -> pa.Table:
        """Strings as dictionaries and times as epoch seconds: Arrow writes both in C at full speed
        (its timestamp formatting costs microseconds a value)."""
        person = pa.array(fixes["person"])
        columns = {
            "supervisee": pa.DictionaryArray.from_arrays(person, self._codes),
            "device_id": pa.DictionaryArray.from_arrays(person, self._keys),
            "ts": np.round(fixes["ts"], 3),
            "sent": np.round(fixes["sent"], 3),
            "lat": np.round(fixes["lat"], 7),
            "lon": np.round(fixes["lon"], 7),
            "accuracy_m": np.round(fixes["accuracy_m"], 1),
            "speed_mps": _nullable(np.round(fixes["speed_mps"], 2)),
            "heading_deg": _nullable(np.round(fixes["heading_deg"], 1)),
            "battery_pct": fixes["battery_pct"],
            "source": pa.DictionaryArray.from_arrays(pa.array(fixes["source"].astype(np.int8)), self._sources),
            "datum": pa.DictionaryArray.from_arrays(pa.array(fixes["datum"].astype(np.int8)), self._datums),
        }
        if self.truth_columns:
            columns["true_lat"] = np.round(fixes["true_lat"], 7)
            columns["true_lon"] = np.round(fixes["true_lon"], 7)
        return pa.table(columns)

    def _records(self, fixes: np.ndarray) -> Iterable[bytes]:
        names = [
            "person",
            "ts",
            "sent",
            "lat",
            "lon",
            "accuracy_m",
            "speed_mps",
            "heading_deg",
            "battery_pct",
            "source",
            "datum",
        ]
        if self.truth_columns:
            names += ["true_lat", "true_lon"]
        for row in fixes[names].tolist():
            record = dict(zip(names, row, strict=True))
            record["supervisee"] = self.fleet.codes[record.pop("person")]
            record["source"] = SOURCE_NAMES[record["source"]]
            record["datum"] = DATUMS[record["datum"]]
            for name in ("speed_mps", "heading_deg"):
                if record[name] != record[name]:  # NaN: not reported
                    del record[name]
            if self.fmt == "jsonl":
                yield orjson.dumps(record) + b"\n"
            else:
                lon, lat = record.pop("lon"), record.pop("lat")
                feature = {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    "properties": record,
                }
                yield (
                    (b"," if self.counts["fixes"] or not self._first_feature() else b"") + orjson.dumps(feature) + b"\n"
                )

    def _first_feature(self) -> bool:
        first = not getattr(self, "_started", False)
        self._started = True
        return first

    def close(self) -> dict:
        if self._writing is not None:
            self._writing.result()
        self._writer.shutdown()
        if self._csv is not None:
            self._csv.close()
        if self.fmt == "geojson":
            self._fixes.write(b"]}\n")
        for file in (self._fixes, self._truth, self._sightings, self._rollcalls):
            file.close()
        return self.counts


def _nullable(values: np.ndarray) -> pa.Array:
    """NaN (not reported) as an empty CSV field."""
    return pa.array(values, mask=np.isnan(values))


def write_fleet(fleet: Fleet, path: Path) -> None:
    """People, phones, zones and cameras: what a platform needs registered to receive the run."""
    lon, lat = fleet.city.to_lonlat(fleet.home[:, 0], fleet.home[:, 1])
    cam_lon, cam_lat = fleet.city.to_lonlat(fleet.cameras[:, 0], fleet.cameras[:, 1])
    people = [
        {
            "code": fleet.codes[p],
            "device_id": fleet.device_keys[p],
            "datum": DATUMS[fleet.datum[p]],
            "gps_interval_s": float(fleet.gps_interval_s[p]),
            "home": {"lat": float(lat[p]), "lon": float(lon[p])},
            "scenario": SCENARIOS[fleet.scenario[p]] if fleet.scenario[p] >= 0 else None,
            "zones": zones.person_zones(fleet, p),
        }
        for p in range(fleet.size)
    ]
    cameras = [
        {
            "code": f"SIMCAM{fleet.seed:03d}-{c:04d}",
            "lat": float(cam_lat[c]),
            "lon": float(cam_lon[c]),
            "office": c == 0,
        }
        for c in range(len(fleet.cameras))
    ]
    path.write_bytes(orjson.dumps({"city": fleet.city.name, "seed": fleet.seed, "people": people, "cameras": cameras}))
