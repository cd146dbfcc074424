"""Conversion of positions from the Chinese map datums to WGS-84.

Phones that use the AMap/Tencent location SDKs report GCJ-02 ("Mars coordinates") and phones that use the
Baidu SDK report BD-09. Both are WGS-84 plus a deliberate, position-dependent offset of hundreds of metres,
so a fix stored as received would sit in the wrong street and trip (or miss) electronic walls that are drawn
in WGS-84. Ingest therefore normalises every fix to WGS-84 with :func:`to_wgs84`.

GCJ-02 is the publicly known "eviltransform"/"coordtransform" algorithm (Krasovsky ellipsoid and the
transformLat/transformLon polynomials); BD-09 is a further polar-coordinate wobble applied to GCJ-02. Neither
has an exact closed-form inverse, so the inverses here are fixed-point iterations accurate to well below a
millimetre, rather than the usual one-step approximations (off by up to about five metres for GCJ-02).

Every function takes array-likes of any (broadcastable) shape and returns new float64 arrays; a position with
a NaN coordinate comes out as NaN in both. :func:`point_to_wgs84` converts one position in plain floats.
"""

import math
from types import SimpleNamespace
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "point_to_wgs84",
    "to_wgs84",
    "wgs84_to_gcj02",
]

Coords = tuple[np.ndarray, np.ndarray]

# Krasovsky 1940 ellipsoid, as baked into GCJ-02.
_A: Final = 6378245.0
_EE: Final = 0.00669342162296594323
_X_PI: Final = 3.14159265358979324 * 3000.0 / 180.0

# The obfuscation is only applied inside this rough box; everywhere else GCJ-02 is plain WGS-84.
_CHINA_LON: Final = (72.004, 137.8347)
_CHINA_LAT: Final = (0.8293, 55.8271)

# 1e-9 degrees is about 0.1 mm. Both iterations shrink the miss over 100x per round and get there in 3-4, so
# 10 rounds only matter as a guard.
_TOLERANCE_DEG: Final = 1e-9
_MAX_ITERATIONS: Final = 10

_DATUMS: Final = ("wgs84", "gcj02", "bd09")

# math spelled as numpy, so that the same formulas convert a phone's single fix in plain floats:
# numpy's per-call costs made one conversion take 0.2-0.3 ms, and 0.7-0.9 ms under load.
_FLOATS: Final = SimpleNamespace(
    sin=math.sin, cos=math.cos, sqrt=math.sqrt, fabs=math.fabs, hypot=math.hypot, arctan2=math.atan2, pi=math.pi
)


def _coords(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Coords:
    """Fresh, writable, same-shape float64 copies, so no caller's array is ever modified or aliased."""
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    lon_a = lon_a.copy()
    lat_a = lat_a.copy()
    # Half a position is no position: without this, (116.4, NaN) would count as "outside China" and its
    # longitude would pass through unconverted, looking like a valid WGS-84 value.
    missing = np.isnan(lon_a) | np.isnan(lat_a)
    lon_a[missing] = np.nan
    lat_a[missing] = np.nan
    return lon_a, lat_a


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    # Comparisons with NaN are False, so NaN counts as outside and never reaches the trigonometry.
    return (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1]) & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])


def _gcj02_offset(lon, lat, xp=np):
    """GCJ-02 minus WGS-84 at a WGS-84 position, in degrees, ignoring the China box (arrays with
    ``xp=np``, floats with ``xp=_FLOATS``)."""
    x = lon - 105.0
    y = lat - 35.0
    x_pi = x * xp.pi
    y_pi = y * xp.pi
    sqrt_abs_x = xp.sqrt(xp.fabs(x))
    shared = 20.0 * xp.sin(6.0 * x_pi) + 20.0 * xp.sin(2.0 * x_pi)

    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat += (shared + 20.0 * xp.sin(y_pi) + 40.0 * xp.sin(y_pi / 3.0)) * 2.0 / 3.0
    d_lat += (160.0 * xp.sin(y_pi / 12.0) + 320.0 * xp.sin(y_pi / 30.0)) * 2.0 / 3.0

    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon += (shared + 20.0 * xp.sin(x_pi) + 40.0 * xp.sin(x_pi / 3.0)) * 2.0 / 3.0
    d_lon += (150.0 * xp.sin(x_pi / 12.0) + 300.0 * xp.sin(x_pi / 30.0)) * 2.0 / 3.0

    # The polynomials give metres on the ellipsoid; scale by the meridian and parallel radii to get degrees.
    rad_lat = lat / 180.0 * xp.pi
    magic = 1.0 - _EE * xp.sin(rad_lat) ** 2
    sqrt_magic = xp.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * xp.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * xp.cos(rad_lat) * xp.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Coords:
    """WGS-84 to GCJ-02; positions outside China are returned unchanged."""
    lon_a, lat_a = _coords(lon, lat)
    # Work on the in-China subset only: it skips needless trigonometry and keeps inf/NaN away from it.
    inside = _in_china(lon_a, lat_a)
    d_lon, d_lat = _gcj02_offset(lon_a[inside], lat_a[inside])
    lon_a[inside] += d_lon
    lat_a[inside] += d_lat
    return lon_a, lat_a


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Coords:
    """GCJ-02 to WGS-84 by fixed-point iteration; positions outside China are returned unchanged."""
    lon_a, lat_a = _coords(lon, lat)
    inside = _in_china(lon_a, lat_a)
    g_lon = lon_a[inside]
    g_lat = lat_a[inside]
    d_lon, d_lat = _gcj02_offset(g_lon, g_lat)
    w_lon = g_lon - d_lon
    w_lat = g_lat - d_lat
    # The offset changes slowly with position, so re-applying the forward transform and subtracting the miss
    # converges fast. Only points that have not converged yet are carried into the next round.
    active = np.arange(g_lon.size)
    for _ in range(_MAX_ITERATIONS):
        d_lon, d_lat = _gcj02_offset(w_lon[active], w_lat[active])
        miss_lon = w_lon[active] + d_lon - g_lon[active]
        miss_lat = w_lat[active] + d_lat - g_lat[active]
        w_lon[active] -= miss_lon
        w_lat[active] -= miss_lat
        active = active[(np.abs(miss_lon) >= _TOLERANCE_DEG) | (np.abs(miss_lat) >= _TOLERANCE_DEG)]
        if active.size == 0:
            break
    lon_a[inside] = w_lon
    lat_a[inside] = w_lat
    return lon_a, lat_a


def _gcj02_to_bd09(lon, lat, xp=np):
    z = xp.hypot(lon, lat) + 0.00002 * xp.sin(lat * _X_PI)
    theta = xp.arctan2(lat, lon) + 0.000003 * xp.cos(lon * _X_PI)
    return z * xp.cos(theta) + 0.0065, z * xp.sin(theta) + 0.006


def _bd09_first_guess(lon, lat, xp=np):
    """The widely published closed-form inverse: a good start, but on its own off by up to ~2e-6 degrees."""
    x = lon - 0.0065
    y = lat - 0.006
    z = xp.hypot(x, y) - 0.00002 * xp.sin(y * _X_PI)
    theta = xp.arctan2(y, x) - 0.000003 * xp.cos(x * _X_PI)
    return z * xp.cos(theta), z * xp.sin(theta)


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Coords:
    """GCJ-02 to BD-09. Baidu applies this everywhere, so there is no China check."""
    lon_a, lat_a = _coords(lon, lat)
    # inf would make sin/cos warn; its result is NaN either way.
    with np.errstate(invalid="ignore"):
        b_lon, b_lat = _gcj02_to_bd09(lon_a, lat_a)
    return np.asarray(b_lon), np.asarray(b_lat)


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Coords:
    """BD-09 to GCJ-02 by fixed-point iteration on the forward transform."""
    b_lon, b_lat = _coords(lon, lat)
    shape = b_lon.shape
    b_lon = b_lon.ravel()
    b_lat = b_lat.ravel()
    with np.errstate(invalid="ignore"):
        g_lon, g_lat = _bd09_first_guess(b_lon, b_lat)
        # NaN never passes the convergence test, so keep non-finite points out of the loop.
        active = np.flatnonzero(np.isfinite(g_lon) & np.isfinite(g_lat))
        for _ in range(_MAX_ITERATIONS):
            f_lon, f_lat = _gcj02_to_bd09(g_lon[active], g_lat[active])
            miss_lon = f_lon - b_lon[active]
            miss_lat = f_lat - b_lat[active]
            g_lon[active] -= miss_lon
            g_lat[active] -= miss_lat
            active = active[(np.abs(miss_lon) >= _TOLERANCE_DEG) | (np.abs(miss_lat) >= _TOLERANCE_DEG)]
            if active.size == 0:
                break
    return g_lon.reshape(shape), g_lat.reshape(shape)


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Coords:
    """BD-09 to WGS-84; outside China only the BD-09 layer is removed."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _invert_point(forward, lon: float, lat: float, guess: tuple[float, float]) -> tuple[float, float]:
    """The position that ``forward`` takes to (lon, lat), by the arrays' fixed-point iteration, in floats."""
    w_lon, w_lat = guess
    for _ in range(_MAX_ITERATIONS):
        f_lon, f_lat = forward(w_lon, w_lat)
        miss_lon, miss_lat = f_lon - lon, f_lat - lat
        w_lon, w_lat = w_lon - miss_lon, w_lat - miss_lat
        if abs(miss_lon) < _TOLERANCE_DEG and abs(miss_lat) < _TOLERANCE_DEG:
            break
    return w_lon, w_lat


def _gcj02_point(lon: float, lat: float) -> tuple[float, float]:
    d_lon, d_lat = _gcj02_offset(lon, lat, _FLOATS)
    return lon + d_lon, lat + d_lat


def _bd09_point(lon: float, lat: float) -> tuple[float, float]:
    return _gcj02_to_bd09(lon, lat, _FLOATS)


def point_to_wgs84(lon: float, lat: float, datum: str) -> tuple[float, float]:
    """``to_wgs84`` for one finite position, in plain floats (a phone's single fix)."""
    if datum not in _DATUMS:
        raise ValueError(f"unknown datum {datum!r}; expected one of {', '.join(_DATUMS)}")
    if datum == "bd09":
        lon, lat = _invert_point(_bd09_point, lon, lat, _bd09_first_guess(lon, lat, _FLOATS))
    if datum != "wgs84" and _CHINA_LON[0] <= lon <= _CHINA_LON[1] and _CHINA_LAT[0] <= lat <= _CHINA_LAT[1]:
        d_lon, d_lat = _gcj02_offset(lon, lat, _FLOATS)
        lon, lat = _invert_point(_gcj02_point, lon, lat, (lon - d_lon, lat - d_lat))
    return lon, lat


def to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, datum: str | npt.ArrayLike) -> Coords:
    """Normalise positions to WGS-84 from ``datum``: one name for the batch, or an array with one per point.

    Raises ValueError for a datum name other than "wgs84", "gcj02" or "bd09".
    """
    datum_a = np.asarray(datum)
    if datum_a.ndim == 0:
        name = datum_a.item()
        if name == "wgs84":
            return _coords(lon, lat)
        if name == "gcj02":
            return gcj02_to_wgs84(lon, lat)
        if name == "bd09":
            return bd09_to_wgs84(lon, lat)
        raise ValueError(f"unknown datum {name!r}; expected one of {', '.join(_DATUMS)}")

    lon_b, lat_b, datum_a = np.broadcast_arrays(np.asarray(lon), np.asarray(lat), datum_a)
    lon_a, lat_a = _coords(lon_b, lat_b)
    is_gcj02 = datum_a == "gcj02"
    is_bd09 = datum_a == "bd09"
    unknown = ~(is_gcj02 | is_bd09 | (datum_a == "wgs84"))
    if unknown.any():
        names = sorted({repr(name) for name in datum_a[unknown].tolist()})
        raise ValueError(f"unknown datum {', '.join(names)}; expected one of {', '.join(_DATUMS)}")
    for mask, convert in ((is_gcj02, gcj02_to_wgs84), (is_bd09, bd09_to_wgs84)):
        if mask.any():
            lon_a[mask], lat_a[mask] = convert(lon_a[mask], lat_a[mask])
    return lon_a, lat_a
