"""The pages' Content-Security-Policy admits the configured tile servers (OSM, 天地图 with its label
layer, Amap's GCJ-02 tiles, an offline tile server) and nothing else."""

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from core.config import get_settings
from core.web import SecurityHeaders
from officer_portal import maps
from tests.factories import run_async

TIANDITU = "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY"
TIANDITU_LABELS = TIANDITU.replace("vec_w", "cva_w").replace("LAYER=vec", "LAYER=cva")
AMAP = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"


@pytest.fixture
def tiles(monkeypatch):
    def configure(url: str, labels: str = "") -> list[str]:
        monkeypatch.setenv("EWALL_MAP_TILES_URL", url)
        monkeypatch.setenv("EWALL_MAP_TILES_LABELS_URL", labels)
        get_settings.cache_clear()
        return maps.tile_sources()

    yield configure
    monkeypatch.undo()
    get_settings.cache_clear()


def _img_src(sources: list[str]) -> list[str]:
    app = Starlette(routes=[Route("/", lambda _: PlainTextResponse("page"))])
    policy = run_async(_policy(SecurityHeaders(app, img_sources=sources)))
    return next(d for d in policy.split("; ") if d.startswith("img-src ")).split()[1:]


async def _policy(app) -> str:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as client:
        return (await client.get("/")).headers["content-security-policy"]


@pytest.mark.parametrize(
    ("url", "labels", "admitted"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "", ["https://tile.openstreetmap.org"]),
        ("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", "", ["https://*.tile.openstreetmap.org"]),
        # 天地图: vector tiles and the label layer on subdomains t0-t7 of one host: one source.
        (TIANDITU, TIANDITU_LABELS, ["https://*.tianditu.gov.cn"]),
        (AMAP, "", ["https://*.is.autonavi.com"]),
        (
            "http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png",
            "http://tiles.lan/labels/{z}/{x}/{y}.png",
            ["http://10.1.2.3:8080", "http://tiles.lan"],
        ),
        ("/tiles/{z}/{x}/{y}.png", "", []),  # served by the portal itself: 'self' covers it
    ],
)
def test_csp_img_src_admits_the_configured_tile_and_label_hosts(tiles, url, labels, admitted):
    sources = tiles(url, labels)
    assert sources == admitted
    assert _img_src(sources) == ["'self'", "data:", *admitted]


def test_tile_sources_are_valid_csp_host_sources(tiles):
    # A CSP wildcard stands for whole leftmost labels only: "t*.tianditu.gov.cn" would match nothing.
    for source in tiles(TIANDITU, TIANDITU_LABELS) + tiles(AMAP):
        host = source.split("://", 1)[1]
        assert "*" not in host or (host.startswith("*.") and "*" not in host[2:]), source
