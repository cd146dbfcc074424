"""The OsmAnd and OwnTracks parsers, on real requests taken from Traccar's decoder tests and the OwnTracks
booklet, plus every error case and fuzzing that only ProtocolError ever escapes. Pure functions: no services."""

import contextlib
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from tracker_ingest.protocols import osmand, owntracks
from tracker_ingest.protocols.common import ProtocolError, RawFix

KNOT = 0.514444


def query(url: str) -> QueryParams:
    """Decode a request's query string the way the app does (a multi-dict: cell/wifi may repeat)."""
    return QueryParams(url.split("?", 1)[1])


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def check(fix: RawFix | None, expected: dict[str, Any]) -> None:
    assert fix is not None
    for name, value in expected.items():
        actual = getattr(fix, name)
        if isinstance(value, float):
            assert actual == pytest.approx(value), name
        else:
            assert actual == value, name


# --- OsmAnd: query strings ------------------------------------------------------------------------

# Requests from traccar/traccar src/test/java/org/traccar/protocol/OsmAndProtocolDecoderTest.java
# (testDecodeQuery), with the fields each should yield in ewall's units.
TRACCAR_QUERY_SAMPLES = [
    pytest.param(
        "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0",
        # ISO-8601 with Z; accuracy estimated from hdop (6.0 * 5 m) because no accuracy was sent.
        {
            "device_key": "902064",
            "ts": at(2016, 1, 27, 18, 55, 47),
            "lat": 42.06288,
            "lon": -88.23412,
            "altitude_m": 224.0,
            "speed_mps": 0.0,
            "accuracy_m": 30.0,
            "source": "gps",
            "radio": {},
        },
        id="iso-z-and-hdop",
    ),
    pytest.param(
        "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0&speed=0.0",
        # Epoch milliseconds.
        {"ts": datetime(2015, 9, 12, 14, 38, 6, 579000, tzinfo=UTC), "lat": 42.06288},
        id="epoch-milliseconds",
    ),
    pytest.param(
        "/?lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0&id=353861053849681",
        # yyyy-MM-dd HH:mm:ss ('+' is a form-encoded space) is China time: 09:10:11 +08:00 = 01:10:11Z.
        {"device_key": "353861053849681", "ts": at(2014, 6, 4, 1, 10, 11), "altitude_m": 384.7},
        id="local-datetime-shanghai",
    ),
    pytest.param(
        "/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0&hdop=0.0",
        # Epoch seconds; hdop 0.0 is "unknown", so no accuracy estimate.
        {
            "ts": at(2013, 8, 22, 13, 14, 27),
            "lat": 60.0,
            "lon": 30.0,
            "heading_deg": 0.0,
            "altitude_m": 0.0,
            "accuracy_m": None,
        },
        id="epoch-seconds-bearing",
    ),
    pytest.param(
        "/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0",
        {
            "device_key": "123456",
            "ts": at(2013, 8, 22, 13, 14, 27),
            "speed_mps": None,
            "heading_deg": None,
            "accuracy_m": None,
            "battery_pct": None,
            "token": None,
            "datum": None,
        },
        id="minimal",
    ),
    pytest.param(
        "/?lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0&deviceid=123456",
        # deviceid instead of id, heading instead of bearing, hacc instead of accuracy, no timestamp.
        {"device_key": "123456", "ts": None, "heading_deg": 0.0, "accuracy_m": 0.0},
        id="deviceid-heading-hacc-no-time",
    ),
    pytest.param(
        "/?id=861001000719969&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87",
        {
            "device_key": "861001000719969",
            "lat": 41.666667,
            "lon": -0.883333,
            "altitude_m": 350.059479,
            "battery_pct": 87,
            "ts": None,
        },
        id="battery",
    ),
    pytest.param(
        "/?id=123456&timestamp=1377177267&location=60.0,30.0",
        {"lat": 60.0, "lon": 30.0, "ts": at(2013, 8, 22, 13, 14, 27)},
        id="location-lat-lon",
    ),
    pytest.param(
        "/?id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244"
        "&speed=40&ignition=true&rpm=933&fuel=24",
        # speed is in knots: 40 kn = 20.58 m/s. Unknown parameters (ignition, rpm, fuel) are ignored.
        {"ts": at(2017, 9, 7, 5, 56, 50), "speed_mps": 40 * KNOT, "heading_deg": 7.19889788244},
        id="knots",
    ),
]


@pytest.mark.parametrize(("url", "expected"), TRACCAR_QUERY_SAMPLES)
def test_traccar_query_samples(url: str, expected: dict[str, Any]) -> None:
    check(osmand.parse(query(url)), expected)


def test_traccar_cell_and_wifi_only_sample_is_kept_for_network_positioning() -> None:
    # OsmAndProtocolDecoderTest.java: repeated cell= (with and without signal) and wifi= with dashed MACs.
    url = (
        "/?id=123456&timestamp=1377177267&cell=257,02,16,2224&cell=257,02,16,2223,-90"
        "&wifi=00-14-22-01-23-45,-80&wifi=00-1C-B3-09-85-15,-70"
    )
    fix = osmand.parse(query(url))
    assert (fix.lat, fix.lon, fix.source) == (None, None, "lbs")
    assert fix.device_key == "123456"
    assert fix.ts == at(2013, 8, 22, 13, 14, 27)
    assert fix.radio == {
        "cell": [
            {"mcc": 257, "mnc": 2, "lac": 16, "cid": 2224},
            {"mcc": 257, "mnc": 2, "lac": 16, "cid": 2223, "signal": -90},
        ],
        "wifi": [{"mac": "00:14:22:01:23:45", "rssi": -80}, {"mac": "00:1C:B3:09:85:15", "rssi": -70}],
    }


def test_repeated_radio_parameters_also_work_from_a_plain_dict_of_lists() -> None:
    fix = osmand.parse({"id": "7", "cell": ["460,0,4301,20911", "460,0,4301,20912,-71"]})
    assert fix.source == "lbs"
    assert [cell["cid"] for cell in fix.radio["cell"]] == [20911, 20912]
    assert fix.radio["wifi"] == []


def test_a_single_wifi_access_point_is_enough() -> None:
    fix = osmand.parse({"id": "7", "wifi": "a4:2b:b0:00:11:22,-61"})
    assert fix.source == "lbs"
    assert fix.radio == {"cell": [], "wifi": [{"mac": "a4:2b:b0:00:11:22", "rssi": -61}]}


def test_radio_data_sent_with_a_position_is_kept_and_the_fix_stays_gps() -> None:
    fix = osmand.parse(query("/?id=7&lat=31.2&lon=121.5&cell=460,0,4301,20911"))
    assert (fix.lat, fix.lon, fix.source) == (31.2, 121.5, "gps")
    assert fix.radio["cell"] == [{"mcc": 460, "mnc": 0, "lac": 4301, "cid": 20911}]


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("1377177267", at(2013, 8, 22, 13, 14, 27)),  # seconds
        ("1377177267000", at(2013, 8, 22, 13, 14, 27)),  # milliseconds
        ("1377177267.5", datetime(2013, 8, 22, 13, 14, 27, 500000, tzinfo=UTC)),  # fractional seconds
        ("100000000000", at(5138, 11, 16, 9, 46, 40)),  # 10^11 itself is still seconds
        ("100000000001", datetime(1973, 3, 3, 9, 46, 40, 1000, tzinfo=UTC)),  # above it: milliseconds
        ("2024-03-01T12:00:00Z", at(2024, 3, 1, 12)),
        ("2024-03-01T12:00:00.250Z", datetime(2024, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        ("2024-03-01T20:00:00+08:00", at(2024, 3, 1, 12)),
        ("2024-03-01T07:00:00-05:00", at(2024, 3, 1, 12)),
        ("2024-03-01T20:00:00", at(2024, 3, 1, 12)),  # naive ISO: China time
        ("2024-03-01 20:00:00", at(2024, 3, 1, 12)),  # yyyy-MM-dd HH:mm:ss: China time
        ("2024-03-01+20:00:00", at(2024, 3, 1, 12)),  # ... with its space still form-encoded as '+'
        ("2024-03-01+20%3A00%3A00", at(2024, 3, 1, 12)),  # ... or entirely still percent-encoded
        ("2024-03-01T20:00:00 08:00", at(2024, 3, 1, 12)),  # an unencoded '+08:00' turned into a space
    ],
)
def test_timestamp_formats(timestamp: str, expected: datetime) -> None:
    fix = osmand.parse({"id": "7", "lat": "31.2", "lon": "121.5", "timestamp": timestamp})
    assert fix.ts == expected
    assert fix.ts.tzinfo is UTC


def test_time_is_an_alias_of_timestamp() -> None:
    assert osmand.parse({"id": "7", "lat": "1", "lon": "2", "time": "1377177267"}).ts == at(2013, 8, 22, 13, 14, 27)


def test_a_real_accuracy_wins_over_the_hdop_estimate() -> None:
    fix = osmand.parse({"id": "7", "lat": "1", "lon": "2", "hdop": "6.0", "accuracy": "12.5"})
    assert fix.accuracy_m == 12.5


def test_token_datum_and_fractional_battery() -> None:
    # Traccar Client for Android sends the battery as a double ("87.0").
    fix = osmand.parse({"id": "7", "token": "s3cret", "datum": "GCJ02", "lat": "1", "lon": "2", "batt": "86.6"})
    assert (fix.token, fix.datum, fix.battery_pct) == ("s3cret", "gcj02", 87)


def test_empty_values_count_as_absent_like_traccar() -> None:
    fix = osmand.parse({"id": "", "deviceid": "abc", "lat": "1", "lon": "2", "speed": "", "timestamp": ""})
    assert (fix.device_key, fix.speed_mps, fix.ts) == ("abc", None, None)


def test_negative_speed_and_heading_mean_unknown() -> None:
    fix = osmand.parse({"id": "7", "lat": "1", "lon": "2", "speed": "-1", "bearing": "-1"})
    assert (fix.speed_mps, fix.heading_deg) == (None, None)


def test_ranges_are_left_to_the_caller() -> None:
    fix = osmand.parse({"id": "7", "lat": "123.0", "lon": "-500"})
    assert (fix.lat, fix.lon) == (123.0, -500.0)


# --- OsmAnd: JSON body (Traccar Client 9+) --------------------------------------------------------

# Bodies from OsmAndProtocolDecoderTest.java (testDecodeJson).
TRACCAR_JSON_SAMPLES = [
    pytest.param(
        r"""{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},"activity":{"type":"still"},"extras":{},"_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"48241179"}""",
        {
            "device_key": "48241179",
            "ts": datetime(2025, 6, 15, 13, 45, 12, 862000, tzinfo=UTC),
            "lat": 37.4219983,
            "lon": -122.084,
            "accuracy_m": 5.0,
            "speed_mps": 0.0,
            "heading_deg": None,
            "altitude_m": 5.0,
            "battery_pct": 100,
            "source": "gps",
        },
        id="traccar-client-android",
    ),
    pytest.param(
        r"""{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},"activity":{"type":"still"},"extras":{"device_string_test":"long_device_id","device_bool_test":true,"device_bool_false_test":false,"device_integer_test":1,"device_double_test":1.345,"device_very_long_double_test":1763636.3442},"_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"48241179"}""",
        {"device_key": "48241179", "lat": 37.4219983, "battery_pct": 100},
        id="with-extras",
    ),
    pytest.param(
        r"""{"location":{"extras":{},"mock":true,"coords":{"speed_accuracy":-1,"speed":-1,"longitude":-122.406417,"ellipsoidal_altitude":0,"floor":null,"heading_accuracy":-1,"latitude":37.785834000000001,"accuracy":5,"altitude_accuracy":-1,"altitude":0,"heading":-1},"is_moving":false,"age":188,"odometer":0,"uuid":"2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8","event":"motionchange","battery":{"level":-1,"is_charging":false},"activity":{"type":"unknown","confidence":100},"timestamp":"2025-05-09T04:11:30.579Z"},"device_id":"658765"}""",
        # iOS simulator: -1 marks unknown speed, heading and battery level.
        {
            "device_key": "658765",
            "ts": datetime(2025, 5, 9, 4, 11, 30, 579000, tzinfo=UTC),
            "lat": 37.785834,
            "lon": -122.406417,
            "speed_mps": None,
            "heading_deg": None,
            "battery_pct": None,
            "altitude_m": 0.0,
        },
        id="ios-unknown-values",
    ),
    pytest.param(
        r"""{"location":{"event":"motionchange","is_moving":false,"uuid":"0e9a2473-a9a7-4c00-997b-fb97d2154e75","timestamp":"2021-07-21T08:06:34.444Z","odometer":0,"coords":{"latitude":-6.1148096,"longitude":106.6837015,"accuracy":3.8,"speed":18.67,"speed_accuracy":0.26,"heading":63,"heading_accuracy":0.28,"altitude":35.7,"altitude_accuracy":3.8},"activity":{"type":"still","confidence":100},"battery":{"is_charging":false,"level":0.79},"extras":{}},"device_id":"8737767034"}""",
        # coords.speed is already m/s (no knots here); battery level is a fraction.
        {
            "device_key": "8737767034",
            "ts": datetime(2021, 7, 21, 8, 6, 34, 444000, tzinfo=UTC),
            "lat": -6.1148096,
            "lon": 106.6837015,
            "accuracy_m": 3.8,
            "speed_mps": 18.67,
            "heading_deg": 63.0,
            "altitude_m": 35.7,
            "battery_pct": 79,
        },
        id="moving",
    ),
]


@pytest.mark.parametrize(("body", "expected"), TRACCAR_JSON_SAMPLES)
def test_traccar_json_samples(body: str, expected: dict[str, Any]) -> None:
    check(osmand.parse({}, json.loads(body)), expected)


def json_body(**location: Any) -> dict[str, Any]:
    coords = {"latitude": 31.2, "longitude": 121.5} | location.pop("coords", {})
    return {"device_id": "7", "location": {"timestamp": "2024-03-01T12:00:00Z", "coords": coords} | location}


def test_json_epoch_timestamps_in_seconds_or_milliseconds() -> None:
    assert osmand.parse({}, json_body(timestamp=1709294400)).ts == at(2024, 3, 1, 12)
    assert osmand.parse({}, json_body(timestamp=1709294400000)).ts == at(2024, 3, 1, 12)


def test_json_without_a_timestamp_means_now() -> None:
    body = json_body()
    del body["location"]["timestamp"]
    assert osmand.parse({}, body).ts is None


def test_json_takes_token_and_datum_from_the_query_and_falls_back_to_its_id() -> None:
    body = json_body()
    del body["device_id"]
    fix = osmand.parse({"id": "from-query", "token": "s3cret", "datum": "BD09"}, body)
    assert (fix.device_key, fix.token, fix.datum) == ("from-query", "s3cret", "bd09")


def test_json_numeric_device_id_is_a_string() -> None:
    assert osmand.parse({}, json_body() | {"device_id": 48241179}).device_key == "48241179"


def test_json_battery_fraction_rounds_instead_of_truncating() -> None:
    assert osmand.parse({}, json_body(battery={"level": 0.29, "is_charging": True})).battery_pct == 29


# --- OsmAnd: errors -------------------------------------------------------------------------------


def test_missing_identifier() -> None:
    # OsmAndProtocolDecoderTest.java: Traccar returns nothing for this request.
    with pytest.raises(ProtocolError, match=r"^missing device identifier: send id=<device id>$"):
        osmand.parse(query("/?timestamp=1377177267&lat=60.0&lon=30.0"))


def test_no_position_and_no_radio() -> None:
    with pytest.raises(ProtocolError, match=r"^no position: send lat and lon \(or location=lat,lon\)$"):
        osmand.parse({"id": "7", "timestamp": "1377177267", "speed": "3"})


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"lat": "abc", "lon": "30"}, ["lat", "'abc'"]),
        ({"lat": "60", "lon": "30,5"}, ["lon", "'30,5'"]),
        ({"lat": "nan", "lon": "30"}, ["lat", "'nan'"]),
        ({"lat": "NaN", "lon": "30"}, ["lat", "'NaN'"]),
        ({"lat": "60", "lon": "inf"}, ["lon", "'inf'"]),
        ({"lat": "60", "lon": "-Infinity"}, ["lon", "'-Infinity'"]),
        ({"lat": "1e999", "lon": "30"}, ["lat", "'1e999'"]),
        ({"lat": "1_000", "lon": "30"}, ["lat", "'1_000'"]),
        ({"lat": "60", "lon": "30", "speed": "fast"}, ["speed", "'fast'"]),
        ({"lat": "60", "lon": "30", "bearing": "north"}, ["bearing", "'north'"]),
        ({"lat": "60", "lon": "30", "heading": "0x10"}, ["heading", "'0x10'"]),
        ({"lat": "60", "lon": "30", "altitude": "high"}, ["altitude", "'high'"]),
        ({"lat": "60", "lon": "30", "accuracy": "good"}, ["accuracy", "'good'"]),
        ({"lat": "60", "lon": "30", "hacc": "good"}, ["hacc", "'good'"]),
        ({"lat": "60", "lon": "30", "hdop": "?"}, ["hdop", "'?'"]),
        ({"lat": "60", "lon": "30", "batt": "full"}, ["batt", "'full'"]),
        ({"lat": "60", "lon": "30", "timestamp": "yesterday"}, ["timestamp", "'yesterday'"]),
        ({"lat": "60", "lon": "30", "time": "2024-13-01 00:00:00"}, ["time", "'2024-13-01 00:00:00'"]),
        ({"lat": "60", "lon": "30", "timestamp": "99999999999999999999999"}, ["timestamp", "'9999"]),
        ({"lat": "60", "lon": "30", "timestamp": "0001-01-01T00:00:00+08:00"}, ["timestamp", "'0001-01-01"]),
        ({"lat": "60"}, ["lon is missing"]),
        ({"lon": "30"}, ["lat is missing"]),
        ({"location": "60.0"}, ["location", "'60.0'"]),
        ({"location": "60.0,30.0,5"}, ["location", "'60.0,30.0,5'"]),
        ({"location": "60.0,east"}, ["location", "'east'"]),
        ({"cell": "257,02,16"}, ["cell", "'257,02,16'"]),
        ({"cell": "257,x,16,2224"}, ["cell", "'x'"]),
        # Python refuses to read integers of over 4,300 digits (a ValueError the parser let through: a 500).
        ({"cell": f"257,02,16,{'9' * 5000}"}, ["cell", "'9999"]),
        ({"wifi": f"00-14-22-01-23-45,-{'9' * 5000}"}, ["wifi", "'-999"]),
        ({"lat": "9" * 5000, "lon": "30"}, ["lat", "'9999"]),
        ({"wifi": "00-14-22-01-23-45"}, ["wifi", "'00-14-22-01-23-45'"]),
        ({"wifi": "00-14-22-01-23-45,strong"}, ["wifi", "'strong'"]),
    ],
)
def test_query_errors_name_the_parameter_and_value(params: dict[str, str], names: list[str]) -> None:
    with pytest.raises(ProtocolError) as error:
        osmand.parse({"id": "7"} | params)
    for name in names:
        assert name in str(error.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "must be an object"),
        ("{}", "must be an object"),
        ({"location": {"coords": {"latitude": 1, "longitude": 2}}}, "missing device identifier"),
        ({"device_id": ["7"], "location": {}}, "device_id must be a string"),
        ({"device_id": "7"}, "no location object"),
        ({"device_id": "7", "location": [{}, {}]}, "one location per request"),
        ({"device_id": "7", "location": {"timestamp": "2024-03-01T12:00:00Z"}}, "no position"),
        ({"device_id": "7", "location": {"coords": "31.2,121.5"}}, "location.coords must be an object"),
        ({"device_id": "7", "location": {"coords": {"latitude": 31.2}}}, "no position"),
        (json_body(coords={"latitude": "north"}), "location.coords.latitude is not a number: 'north'"),
        (json_body(coords={"longitude": True}), "location.coords.longitude is not a number: True"),
        (json_body(coords={"latitude": float("nan")}), "location.coords.latitude is not a finite number"),
        (json_body(coords={"speed": float("inf")}), "location.coords.speed is not a finite number"),
        (json_body(coords={"heading": [63]}), "location.coords.heading is not a number"),
        (json_body(battery={"level": "full"}), "location.battery.level is not a number: 'full'"),
        (json_body(timestamp="last tuesday"), "location.timestamp is not a time: 'last tuesday'"),
        (json_body(timestamp=True), "location.timestamp is not a time: True"),
        (json_body(timestamp=1e300), "location.timestamp is not a time"),
    ],
)
def test_json_errors(body: Any, message: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)):
        osmand.parse({}, body)


# --- OsmAnd: nothing but ProtocolError escapes ----------------------------------------------------

OSMAND_KEYS = [
    "id", "deviceid", "token", "timestamp", "time", "lat", "lon", "location", "speed", "bearing", "heading",
    "altitude", "accuracy", "hacc", "hdop", "batt", "datum", "cell", "wifi",
]  # fmt: skip
# Text that looks like the protocol, so the fuzzer reaches the parsers rather than only the "not a number" path.
PLAUSIBLE = st.one_of(
    st.text(),
    st.text(alphabet="0123456789+-.,:eETZ %", max_size=30),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.datetimes().map(lambda ts: ts.isoformat(sep=" ")),
)


def parses_or_refuses(params: Any, body: Any = None) -> None:
    try:
        fix = osmand.parse(params, body)
    except ProtocolError:
        return
    assert fix.device_key
    assert fix.ts is None or fix.ts.utcoffset() is not None
    for value in (fix.lat, fix.lon, fix.speed_mps, fix.heading_deg, fix.accuracy_m, fix.altitude_m):
        assert value is None or math.isfinite(value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), st.text()))
def test_arbitrary_string_params_only_raise_protocol_error(params: dict[str, str]) -> None:
    parses_or_refuses(params)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(OSMAND_KEYS), PLAUSIBLE))
def test_arbitrary_values_of_known_params_only_raise_protocol_error(params: dict[str, str]) -> None:
    parses_or_refuses(params)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "device_id": JSON_VALUES,
            "location": st.fixed_dictionaries(
                {},
                optional={
                    "timestamp": JSON_VALUES,
                    "coords": st.fixed_dictionaries(
                        {},
                        optional={
                            key: JSON_VALUES | st.floats()
                            for key in ("latitude", "longitude", "speed", "heading", "accuracy", "altitude")
                        },
                    )
                    | JSON_VALUES,
                    "battery": st.fixed_dictionaries({}, optional={"level": JSON_VALUES}) | JSON_VALUES,
                },
            )
            | JSON_VALUES,
        },
    )
    | JSON_VALUES
)
def test_arbitrary_json_bodies_only_raise_protocol_error(body: Any) -> None:
    if body is not None:
        parses_or_refuses({}, body)


# --- OwnTracks ------------------------------------------------------------------------------------

# Bodies from traccar/traccar src/test/java/org/traccar/protocol/OwnTracksProtocolDecoderTest.java.
OWNTRACKS_SAMPLES = [
    pytest.param(
        {
            "_type": "location",
            "acc": 15,
            "alt": 440,
            "batt": 46,
            "conn": "w",
            "lat": 46.0681247,
            "lon": 11.1512805,
            "t": "u",
            "tid": "5t",
            "tst": 1551874878,
            "vac": 2,
            "vel": 0,
        },
        {
            "ts": at(2019, 3, 6, 12, 21, 18),
            "lat": 46.0681247,
            "lon": 11.1512805,
            "accuracy_m": 15.0,
            "altitude_m": 440.0,
            "battery_pct": 46,
            "speed_mps": 0.0,
            "heading_deg": None,
            "source": "gps",
        },
        id="android",
    ),
    pytest.param(
        {"lon": 2.29513, "lat": 48.85833, "tst": 1497349316, "_type": "location", "tid": "JJ"},
        {
            "ts": at(2017, 6, 13, 10, 21, 56),
            "lat": 48.85833,
            "lon": 2.29513,
            "accuracy_m": None,
            "speed_mps": None,
            "battery_pct": None,
        },
        id="minimal",
    ),
    pytest.param(
        {
            "cog": 271,
            "lon": 2.29513,
            "acc": 5,
            "vel": 61,
            "vac": 21,
            "lat": 48.85833,
            "tst": 1497349316,
            "alt": 167,
            "_type": "location",
            "tid": "JJ",
            "t": "u",
            "batt": 67,
        },
        # vel is km/h: 61 km/h = 16.94 m/s.
        {"speed_mps": 61 / 3.6, "heading_deg": 271.0, "accuracy_m": 5.0, "altitude_m": 167.0, "battery_pct": 67},
        id="ios-extended-data",
    ),
    pytest.param(
        {"lat": 48.85, "lon": 2.295, "_type": "location", "tid": "JJ", "tst": 1497476456},
        {"ts": at(2017, 6, 14, 21, 40, 56), "lat": 48.85, "lon": 2.295},
        id="recorder-example",
    ),
    pytest.param(
        {
            "lon": -122,
            "acc": 5,
            "created_at": 1736161415,
            "lat": 37,
            "topic": "owntracks/ckrey/22A67880-15C3-41A6-9157-25545C7993AC",
            "t": "u",
            "m": 1,
            "tst": 1736161169,
            "conn": "w",
            "alt": 0,
            "_type": "location",
            "tid": "AC",
        },
        # Integer coordinates; tst (the fix) rather than created_at (the message).
        {"ts": at(2025, 1, 6, 10, 59, 29), "lat": 37.0, "lon": -122.0, "altitude_m": 0.0},
        id="integer-coordinates",
    ),
    pytest.param(
        {
            "topic": "owntracks/qtripp/865284041968706",
            "lat": 47.420051,
            "lon": 13.654704,
            "vel": 0,
            "cog": 113,
            "tst": 1736519167,
            "mcc": 232,
            "mnc": 1,
            "lac": "4F4D",
            "cid": "673A",
            "_type": "location",
            "acc": 10,
            "alt": 1113,
            "t": "I",
            "don": 105,
            "tid": "CS",
        },
        # A Queclink tracker through qtripp; its extra fields are ignored.
        {"ts": at(2025, 1, 10, 14, 26, 7), "heading_deg": 113.0, "altitude_m": 1113.0, "radio": {}},
        id="qtripp",
    ),
    pytest.param(
        # Constructed: the booklet notes Android < 0.5.11 and iOS < 8.0 sent numbers as strings.
        {"_type": "location", "lat": "48.85833", "lon": "2.29513", "tst": "1497349316", "vel": "36", "batt": "50"},
        {"ts": at(2017, 6, 13, 10, 21, 56), "lat": 48.85833, "speed_mps": 10.0, "battery_pct": 50},
        id="legacy-string-numbers",
    ),
]


@pytest.mark.parametrize(("payload", "expected"), OWNTRACKS_SAMPLES)
def test_owntracks_location_samples(payload: dict[str, Any], expected: dict[str, Any]) -> None:
    fix = owntracks.parse(payload, user="jane", device="phone")
    check(fix, {"device_key": "jane/phone", "token": None, "datum": None} | expected)


@pytest.mark.parametrize(
    ("user", "device", "key"),
    [("jane", "phone", "jane/phone"), ("jane", None, "jane"), (None, "phone", "phone"), (" jane ", "", "jane")],
)
def test_owntracks_device_key(user: str | None, device: str | None, key: str) -> None:
    payload = {"_type": "location", "lat": 1, "lon": 2, "tst": 1497476456}
    assert owntracks.parse(payload, user=user, device=device).device_key == key


def test_owntracks_without_any_identity_leaves_it_to_the_app() -> None:
    payload = {"_type": "location", "lat": 1, "lon": 2, "tst": 1497476456, "topic": "owntracks/mallory/phone"}
    # The body's topic is not trusted as an identity.
    assert owntracks.parse(payload, user=None, device=None).device_key is None


@pytest.mark.parametrize(
    "payload",
    [
        # OwnTracks booklet, docs/tech/json.md (_type=transition and _type=lwt examples).
        {
            "_type": "transition",
            "wtst": 1425042603,
            "lat": 12.34,
            "lon": 44.5,
            "tst": 1427634603,
            "acc": 130,
            "tid": "JP",
            "event": "enter",
            "desc": "my Indian restaurant",
            "t": "b",
        },
        {"_type": "lwt", "tst": 1380738247},
        {"_type": "waypoint", "desc": "Home", "lat": 48.85, "lon": 2.295, "rad": 50, "tst": 1497476456},
        {"_type": "waypoints", "waypoints": []},
        {"_type": "card", "name": "Jane"},
        {"_type": "status"},
        {"_type": "steps", "steps": 1200, "from": 1497400000, "to": 1497476456},
        {"_type": "beacon", "uuid": "CA271EAE-5FA8-4E80-8F08-2A302A95A959", "major": 1, "minor": 1},
        {"_type": "cmd", "action": "reportLocation"},
        {"_type": "encrypted", "data": "aGVsbG8="},
        {"_type": "configuration", "mode": 3},
        {"_type": "dump"},
        {"_type": "something-new", "lat": 1, "lon": 2, "tst": 3},
        {},
        None,
    ],
)
def test_owntracks_messages_that_are_not_fixes_are_accepted_and_ignored(payload: Any) -> None:
    assert owntracks.parse(payload, user="jane", device="phone") is None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([{"_type": "location"}], "must be a JSON object, got list"),
        ("location", "must be a JSON object, got str"),
        ({"lat": 1, "lon": 2, "tst": 3}, "_type is missing"),
        ({"_type": "location", "lon": 2, "tst": 3}, "location message without lat$"),
        ({"_type": "location", "lat": 1, "tst": 3}, "location message without lon$"),
        ({"_type": "location", "lat": 1, "lon": 2}, "location message without tst$"),
        ({"_type": "location"}, "location message without lat, lon, tst$"),
        ({"_type": "location", "lat": 1, "lon": None, "tst": 3}, "location message without lon$"),
        ({"_type": "location", "lat": "north", "lon": 2, "tst": 3}, "lat is not a number: 'north'"),
        ({"_type": "location", "lat": 1, "lon": True, "tst": 3}, "lon is not a number: True"),
        ({"_type": "location", "lat": 1, "lon": 2, "tst": "soon"}, "tst is not a number: 'soon'"),
        ({"_type": "location", "lat": "nan", "lon": 2, "tst": 3}, "lat is not a finite number"),
        ({"_type": "location", "lat": 1, "lon": 2, "tst": 10**20}, "tst is not an epoch time"),
        ({"_type": "location", "lat": 1, "lon": 2, "tst": 10**400}, "tst is not a number"),
        ({"_type": "location", "lat": 1, "lon": 2, "tst": 3, "acc": [5]}, "acc is not a number"),
        ({"_type": "location", "lat": 1, "lon": 2, "tst": 3, "vel": "fast"}, "vel is not a number: 'fast'"),
    ],
)
def test_owntracks_errors(payload: Any, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        owntracks.parse(payload, user="jane", device="phone")


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES | st.dictionaries(st.sampled_from(["_type", "lat", "lon", "tst", "acc", "vel"]), JSON_VALUES))
def test_owntracks_arbitrary_payloads_only_raise_protocol_error(payload: Any) -> None:
    if isinstance(payload, dict) and "_type" in payload and payload["_type"] is not None:
        payload["_type"] = "location"
    with contextlib.suppress(ProtocolError):
        owntracks.parse(payload, user="jane", device="phone")
