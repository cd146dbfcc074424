"""Folium maps for the portal, served with the Leaflet copy shipped in static/ (offices are often
off the internet); tiles come from the configured tile server."""

import html
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import folium

from core.config import get_settings
from core.timezones import to_display
from core.wire import AlertLevel

LEVEL_COLOURS = {AlertLevel.red: "#d62728", AlertLevel.yellow: "#f0ad00", None: "#2ca02c"}
LEVEL_LABELS = {AlertLevel.red: "红色报警 red", AlertLevel.yellow: "黄色预警 yellow", None: "正常 normal"}
DEFAULT_CENTRE = (41.29, 123.77)  # Benxi, Liaoning: a sensible empty-map default


# Folium puts popup and tooltip content into JavaScript template literals as HTML, so text from users
# (a supervisee's or a zone's name) is HTML-escaped and loses the characters a template literal
# interprets: a backtick would end it and ``${…}`` would run.
_TEMPLATE_LITERAL = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def text(value: object) -> str:
    """User-supplied text made inert for folium's popups and tooltips."""
    return html.escape(str(value)).translate(_TEMPLATE_LITERAL)


def tile_sources() -> list[str]:
    """The tile servers' origins, for the pages' Content-Security-Policy (``{s}`` subdomains as ``*``)."""
    settings = get_settings()
    urls = (urlsplit(u) for u in (settings.map_tiles_url, settings.map_tiles_labels_url) if u)
    return list(dict.fromkeys(f"{url.scheme}://{_any_subdomain(url.netloc)}" for url in urls if url.netloc))


def _any_subdomain(host: str) -> str:
    """A CSP wildcard stands for whole leftmost labels: 天地图's "t{s}.tianditu.gov.cn" (t0-t7) must
    become "*.tianditu.gov.cn", as "t*.tianditu.gov.cn" would admit nothing."""
    labels = host.split(".")
    templated = [i for i, label in enumerate(labels) if "{s}" in label]
    return ".".join(["*", *labels[templated[-1] + 1 :]]) if templated else host


def basemap_config() -> dict:
    """What static/basemap.js needs to draw the configured tiles (the page's ``#map-config``)."""
    settings = get_settings()
    return {
        "tiles": settings.map_tiles_url,
        "labels": settings.map_tiles_labels_url or None,
        "attribution": settings.map_tiles_attribution,
        "subdomains": settings.map_tiles_subdomains,
        "datum": settings.map_tiles_datum,
        "max_zoom": settings.map_max_zoom,
        "centre": DEFAULT_CENTRE,
    }


@dataclass(frozen=True)
class MapPerson:
    supervisee_id: int
    code: str
    name: str
    lat: float
    lon: float
    accuracy_m: float | None
    ts: object
    level: AlertLevel | None


def live_map(people: Iterable[MapPerson], zones: Iterable[tuple[str, dict]]) -> str:
    """A full HTML document: one marker per person coloured by their worst open alert, zone outlines."""
    settings = get_settings()
    people = list(people)
    fmap = folium.Map(location=DEFAULT_CENTRE, zoom_start=12, tiles=None, control_scale=True)
    # Folium's popups need jQuery; both ship with the portal.
    fmap.default_js = [
        ("leaflet", "/static/vendor/leaflet/leaflet.js"),
        ("jquery", "/static/vendor/jquery/jquery.min.js"),
    ]
    fmap.default_css = [("leaflet_css", "/static/vendor/leaflet/leaflet.css")]
    folium.TileLayer(settings.map_tiles_url, attr=settings.map_tiles_attribution, name="map").add_to(fmap)
    zone_layer = folium.FeatureGroup(name="电子墙 zones").add_to(fmap)
    for name, geometry in zones:
        folium.GeoJson(
            geometry,
            tooltip=text(name),
            style_function=lambda _: {"color": "#1f77b4", "weight": 2, "fillOpacity": 0.05},
        ).add_to(zone_layer)
    for person in people:
        colour = LEVEL_COLOURS[person.level]
        popup = (
            f"<b>{text(person.name)}</b> ({text(person.code)})<br>{LEVEL_LABELS[person.level]}<br>"
            f"{to_display(person.ts)}<br>±{person.accuracy_m or '?'} m"
        )
        folium.CircleMarker(
            location=(person.lat, person.lon),
            radius=8,
            color=colour,
            fill=True,
            fill_color=colour,
            fill_opacity=0.85,
            popup=folium.Popup(popup, max_width=260),
            tooltip=text(person.name),
            class_name=f"ewall-person level-{person.level.value if person.level else 'normal'}",
        ).add_to(fmap)
    if people:
        lats = [p.lat for p in people]
        lons = [p.lon for p in people]
        fmap.fit_bounds([(min(lats), min(lons)), (max(lats), max(lons))], padding=(30, 30), max_zoom=15)
    return fmap.get_root().render()
