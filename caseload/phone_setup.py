"""Setting up a supervisee's phone by scanning: what Traccar Client and OwnTracks read from a QR code,
and the QR codes themselves (segno, as SVG). The payloads carry the device's secrets, so they are made
only in the answer that registers the device, never stored or put in a URL the portal serves."""

import base64
import json
from urllib.parse import quote, urlencode

import segno

from caseload.schemas import PhoneSetup

# OwnTracks' connection modes: 0 is MQTT, 3 is HTTP (the same on Android and iOS).
OWNTRACKS_HTTP_MODE = 3
# Traccar Client's reporting interval (s): a fix a minute, as the platform's alert rules assume.
TRACCAR_INTERVAL_S = 60


def traccar_url(ingest_url: str, device_key: str) -> str:
    """Traccar Client reads a scanned http(s) link as its server URL (scheme, host, port and path) and
    its query parameters as settings: ``id`` is the device identifier it sends with every fix."""
    query = urlencode({"id": device_key, "interval": TRACCAR_INTERVAL_S, "accuracy": "highest"})
    return f"{ingest_url}/?{query}"


def owntracks_config(ingest_url: str, username: str, token: str, tracker_id: str) -> dict:
    """OwnTracks in HTTP mode posting to ingest's /owntracks with basic auth (user = device id,
    password = token). ``tid`` is the two-character label the app shows on its own map."""
    return {
        "_type": "configuration",
        "mode": OWNTRACKS_HTTP_MODE,
        "url": f"{ingest_url}/owntracks",
        "auth": True,
        "username": username,
        "password": token,
        "deviceId": tracker_id,
        "tid": tracker_id[-2:].upper(),
    }


def owntracks_url(config: dict) -> str:
    """The OwnTracks link that imports a configuration: base64 of its JSON, percent-encoded."""
    inline = base64.b64encode(json.dumps(config, separators=(",", ":")).encode()).decode()
    return f"owntracks:///config?inline={quote(inline, safe='')}"


def qr_svg(payload: str) -> str:
    """A QR code of the payload as an SVG data URI (error correction M: a phone screen's glare)."""
    return segno.make(payload, error="m", micro=False).svg_data_uri(scale=4, border=4)


def setup_for(*, ingest_url: str, device_key: str, key_is_secret: bool, token: str, tracker_id: str) -> PhoneSetup:
    """Both apps' settings for a device just registered. Traccar Client sends no password, so it can
    authenticate only by a generated id; a device registered under its own id gets OwnTracks alone."""
    traccar = traccar_url(ingest_url, device_key) if key_is_secret else None
    config = owntracks_config(ingest_url, device_key, token, tracker_id)
    link = owntracks_url(config)
    return PhoneSetup(
        ingest_url=ingest_url,
        traccar_url=traccar,
        traccar_qr=qr_svg(traccar) if traccar else None,
        owntracks_config=config,
        owntracks_url=link,
        owntracks_qr=qr_svg(link),
    )
