"""Enrolment photos through the API: who may set, read and delete them, what counts as a photo (its
bytes, not its claimed type), the size cap, the audited read and the no-store answer."""

import pytest

from core.config import get_settings
from tests.factories import signed_in_as

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 16


@pytest.fixture(scope="module")
def county(admin_api, portal_url):
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    return {
        "officer": signed_in_as(portal_url, officer),
        "auditor": signed_in_as(portal_url, admin_api.officer(district["id"], role="auditor")),
        "person": admin_api.supervisee(district["id"], officer["id"]),
    }


def photo_path(person) -> str:
    return f"/supervisees/{person['id']}/enrolment-photo"


def test_officer_sets_replaces_reads_and_deletes_the_photo(county, admin_api):
    officer, path = county["officer"], photo_path(county["person"])
    officer.call("GET", path, 404)
    # The claimed Content-Type does not matter: the bytes say what the image is.
    officer.call("PUT", path, 204, content=PNG, headers={"Content-Type": "application/octet-stream"})
    officer.call("PUT", path, 204, content=JPEG)
    answer = officer.client.get(f"/api/v1{path}")
    assert answer.status_code == 200 and answer.content == JPEG
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["cache-control"] == "private, no-store"
    reads = admin_api.call("GET", f"/audit?action=supervisee.enrolment_photo_read&entity_id={county['person']['id']}")
    assert len(reads["entries"]) == 1
    officer.call("PUT", path, 204, content=WEBP)
    assert officer.client.get(f"/api/v1{path}").headers["content-type"] == "image/webp"
    officer.call("DELETE", path, 204)
    officer.call("GET", path, 404)
    officer.call("DELETE", path, 204)  # already gone: the same outcome


def test_not_a_photo_and_too_big_are_refused_with_reasons(county):
    officer, path = county["officer"], photo_path(county["person"])
    refused = officer.client.put(f"/api/v1{path}", content=b"<svg onload=alert(1)>")
    assert refused.status_code == 422 and "image/jpeg" in refused.json()["detail"]
    assert officer.client.put(f"/api/v1{path}", content=b"").status_code == 422
    too_big = JPEG + b"\x00" * get_settings().enrolment_photo_max_bytes
    refused = officer.client.put(f"/api/v1{path}", content=too_big)
    assert refused.status_code == 413 and "scale it down" in refused.json()["detail"]


def test_auditor_reads_only_and_other_counties_see_nothing(county, admin_api, portal_url):
    path = photo_path(county["person"])
    county["officer"].call("PUT", path, 204, content=PNG)
    assert county["auditor"].client.get(f"/api/v1{path}").content == PNG
    county["auditor"].call("PUT", path, 403, content=JPEG)
    county["auditor"].call("DELETE", path, 403)
    stranger = signed_in_as(portal_url, admin_api.officer(admin_api.district()["id"]))
    stranger.call("GET", path, 404)
    stranger.call("PUT", path, 404, content=JPEG)
