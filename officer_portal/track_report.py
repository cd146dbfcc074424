"""The printable track report: a folium map document (the portal's own Leaflet and jQuery, the
configured tiles) with the track coloured by speed, its gaps dashed, start and end, and a header
saying whose track, which range, when it was made and by whom."""

from datetime import datetime

import folium
import numpy as np

from caseload.models import Officer
from core import datum
from core.config import get_settings
from core.timezones import to_display
from officer_portal.maps import DEFAULT_CENTRE, text
from tracker_ingest import tracks

SPEED_COLOURS = ("#7f7f7f", "#2ca02c", "#1f77b4", "#ff7f0e", "#d62728")
GAP_COLOUR = "#444444"
_PRINT_CSS = """
<style>
  body { font-family: sans-serif; margin: 0; }
  .report-head { padding: 8px 14px; border-bottom: 1px solid #999; }
  .report-head h1 { font-size: 18px; margin: 0 0 4px; }
  .report-head p { margin: 2px 0; font-size: 13px; }
  .report-head .legend span { display: inline-block; margin-right: 12px; }
  .report-head .swatch { display: inline-block; width: 18px; height: 4px; vertical-align: middle; margin-right: 4px; }
  .folium-map { position: absolute; top: 118px; bottom: 0; left: 0; right: 0; }
  @media print { .folium-map { position: relative; top: 0; height: 180mm; } @page { size: A4 landscape; } }
</style>
"""


def _on_tiles(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 positions in the tiles' datum (GCJ-02 tiles such as Amap are offset)."""
    if get_settings().map_tiles_datum == "gcj02":
        lon, lat = datum.wgs84_to_gcj02(lon, lat)
    return lat, lon


def _header(track: tracks.Track, replay: dict, viewer: Officer, generated_at: datetime) -> str:
    person = track.person
    legend = "".join(
        f'<span><i class="swatch" style="background:{colour}"></i>{text(label)}</span>'
        for colour, label in zip(SPEED_COLOURS, tracks.SPEED_LABELS, strict=True)
    )
    gap_swatch = f'<i class="swatch" style="border-top:3px dashed {GAP_COLOUR}"></i>'
    legend += f"<span>{gap_swatch}中断 gap &gt; {replay['gap_min']:g} min</span>"
    cut = "<p><b>只含前 50,000 个定位 Only the first 50,000 fixes.</b></p>" if track.truncated else ""
    return (
        f'<header class="report-head"><h1>轨迹报告 Track report · {text(person.code)} {text(person.full_name)}</h1>'
        f"<p>时段 Range: {to_display(track.since)} – {to_display(track.until)} ({text(get_settings().display_tz)})"
        f" · 定位 fixes: {len(track.fixes)} · 中断 gaps: {replay['gaps']}</p>"
        f"<p>生成 Generated {to_display(generated_at)} · 由 by {text(viewer.full_name)} ({text(viewer.username)})</p>"
        f'{cut}<p class="legend">{legend}</p></header>'
    )


def render(track: tracks.Track, *, gap_min: float, viewer: Officer, generated_at: datetime) -> str:
    """The whole HTML document."""
    settings = get_settings()
    replay = tracks.replay(track, gap_min=gap_min)
    lat, lon = _on_tiles(np.asarray(replay["lat"], dtype=float), np.asarray(replay["lon"], dtype=float))
    fmap = folium.Map(tiles=None, control_scale=True, location=DEFAULT_CENTRE, zoom_start=13)
    # Folium's popups need jQuery; both ship with the portal (offices are often off the internet).
    fmap.default_js = [
        ("leaflet", "/static/vendor/leaflet/leaflet.js"),
        ("jquery", "/static/vendor/jquery/jquery.min.js"),
    ]
    fmap.default_css = [("leaflet_css", "/static/vendor/leaflet/leaflet.css")]
    folium.TileLayer(settings.map_tiles_url, attr=settings.map_tiles_attribution, name="map").add_to(fmap)
    fmap.get_root().header.add_child(folium.Element(_PRINT_CSS))
    fmap.get_root().html.add_child(folium.Element(_header(track, replay, viewer, generated_at)), index=0)
    for piece in replay["pieces"]["speed"]:
        points = [(float(lat[i]), float(lon[i])) for i in piece["i"]]
        if piece.get("gap"):
            folium.PolyLine(points, color=GAP_COLOUR, weight=3, dash_array="6 8", class_name="report-gap").add_to(fmap)
        else:
            folium.PolyLine(points, color=SPEED_COLOURS[piece["c"]], weight=4, class_name="report-run").add_to(fmap)
    if len(lat):
        ends = ((0, "起点 start", "#2ca02c"), (len(lat) - 1, "终点 end", "#d62728"))
        for index, label, colour in ends:
            folium.CircleMarker(
                (float(lat[index]), float(lon[index])),
                radius=7,
                color=colour,
                fill=True,
                fill_opacity=0.9,
                tooltip=f"{label} {to_display(track.fixes[index].ts)}",
                class_name=f"report-{label.split()[1]}",
            ).add_to(fmap)
        fmap.fit_bounds([(float(lat.min()), float(lon.min())), (float(lat.max()), float(lon.max()))], padding=(20, 20))
    return fmap.get_root().render()
