"""Maps in the portal: the configured tile server for the pages' Leaflet maps (offices are often off
the internet, so Leaflet is shipped in static/), and inert text for folium's map documents."""

import html
from urllib.parse import urlsplit

from core.config import get_settings

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
