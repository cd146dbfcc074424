"""The phone set-up QR codes: what Traccar Client and OwnTracks read from them, decoded back from the
codes themselves (zxing-cpp) rather than trusted from the text that went in."""

import base64
import json
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import segno
import zxingcpp

from caseload import phone_setup

INGEST = "https://ingest.example.gov.cn:5055"
KEY = "ew-" + "0123456789abcdef" * 2
TOKEN = "tok_" + "x" * 40


def decoded(data_uri: str, payload: str) -> str:
    """The text a scanner reads from the QR code of ``payload``, after checking that the page's SVG is
    exactly segno's code for it."""
    assert data_uri == phone_setup.qr_svg(payload)
    matrix = np.array(
        [[0 if dark else 255 for dark in row] for row in segno.make(payload, error="m").matrix_iter(border=4)],
        dtype=np.uint8,
    )
    image = np.kron(matrix, np.ones((6, 6), dtype=np.uint8))  # 6 px a module, as a screen shows it
    (barcode,) = zxingcpp.read_barcodes(image)
    return barcode.text


def test_traccar_client_link_names_the_server_and_the_device():
    setup = phone_setup.setup_for(
        ingest_url=INGEST, device_key=KEY, key_is_secret=True, token=TOKEN, tracker_id="ewall42"
    )
    text = decoded(setup.traccar_qr, setup.traccar_url)
    url = urlsplit(text)
    # Traccar Client keeps scheme, host, port and path as its server URL and reads settings from the query.
    assert f"{url.scheme}://{url.netloc}" == INGEST and url.path == "/"
    query = parse_qs(url.query)
    assert query["id"] == [KEY] and query["interval"] == ["60"]
    assert TOKEN not in text  # the OsmAnd protocol authenticates by the generated id alone


def test_owntracks_link_imports_http_mode_with_the_device_credentials():
    setup = phone_setup.setup_for(
        ingest_url=INGEST, device_key=KEY, key_is_secret=True, token=TOKEN, tracker_id="ewall42"
    )
    text = decoded(setup.owntracks_qr, setup.owntracks_url)
    assert text.startswith("owntracks:///config?inline=")
    config = json.loads(base64.b64decode(unquote(text.split("inline=", 1)[1])))
    assert config == setup.owntracks_config
    assert config["_type"] == "configuration" and config["mode"] == 3  # HTTP
    assert config["url"] == f"{INGEST}/owntracks"
    assert (config["username"], config["password"]) == (KEY, TOKEN)
    assert config["auth"] is True and config["deviceId"] == "ewall42" and config["tid"] == "42"


def test_a_device_with_its_own_id_gets_no_traccar_code():
    setup = phone_setup.setup_for(
        ingest_url=INGEST, device_key="860000000000001", key_is_secret=False, token=TOKEN, tracker_id="ewall7"
    )
    assert setup.traccar_url is None and setup.traccar_qr is None
    assert setup.owntracks_config["username"] == "860000000000001"
