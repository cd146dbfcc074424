"""Electronic monitoring periods (社区矫正法 art. 29): at most 3 calendar months at a time, each renewal at
most 3 more, approved above the person's own officer, on grounds the law lists; released early; the
officer sees the period in force, the days left and a reminder before it ends."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from caseload import monitoring, periods
from caseload.models import MonitoringGround, MonitoringPeriod
from tests.factories import STAFF_PASSWORD, signed_in_as

LEFT_AREA = ["left_area_without_approval"]


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def test_three_calendar_months_count_as_the_law_counts_them():
    # 民法典 arts. 201-202: the month's corresponding day, or its last day when it has none.
    assert periods.latest_last_day(date(2026, 11, 30)) == date(2027, 2, 28)
    assert periods.latest_last_day(date(2027, 11, 30)) == date(2028, 2, 29)
    assert periods.latest_last_day(date(2027, 1, 31)) == date(2027, 4, 30)
    assert periods.latest_last_day(date(2027, 3, 1)) == date(2027, 6, 1)


def test_periods_and_renewals_keep_the_laws_limits_and_need_an_approver_and_grounds(admin_api, portal_url, db):
    district = admin_api.district()
    chief = admin_api.officer(district["id"], role="supervisor")
    officer = admin_api.officer(district["id"], supervisor_id=chief["id"])
    person = admin_api.supervisee(district["id"], officer_id=officer["id"], monitored=False)
    periods_path = f"/supervisees/{person['id']}/monitoring-periods"
    as_chief, as_officer = signed_in_as(portal_url, chief), signed_in_as(portal_url, officer)

    def period(starts_on, ends_on, grounds=LEFT_AREA, expect=201, api=as_chief):
        body = {"starts_on": str(starts_on), "ends_on": str(ends_on), "grounds": grounds}
        return api.call("POST", periods_path, expect, json=body)

    # The person's own officer alone cannot approve; grounds are required and must be the law's.
    refused = period(date(2030, 11, 30), date(2031, 2, 28), api=as_officer, expect=403)
    assert "supervisor, command or admin" in refused["detail"]
    period(date(2030, 11, 30), date(2031, 2, 28), grounds=[], expect=422)
    period(date(2030, 11, 30), date(2031, 2, 28), grounds=["bad_attitude"], expect=422)
    admin_api.call("PATCH", f"/supervisees/{person['id']}", 422, json={"monitoring_end": "2031-01-01"})

    # At most 3 calendar months: 30 Nov runs to 28 Feb, not 1 Mar; in a leap year to 29 Feb.
    too_long = period(date(2030, 11, 30), date(2031, 3, 1), expect=422)
    assert "2031-02-28" in too_long["detail"] and "art. 29" in too_long["detail"]
    first = period(date(2030, 11, 30), date(2031, 2, 28))
    assert first["approved_by"] == chief["id"] and first["grounds"] == LEFT_AREA
    period(date(2031, 11, 30), date(2032, 3, 1), expect=422)
    leap = period(date(2031, 11, 30), date(2032, 2, 29))
    overlap = period(date(2031, 1, 15), date(2031, 2, 1), expect=409)
    assert str(first["id"]) in overlap["detail"]

    # A renewal: from the day after, at most 3 months from the last day, on an assessment.
    renew = f"{periods_path}/{first['id']}/renew"
    body = {"ends_on": "2031-05-28", "grounds": ["revocation_pending"], "assessment": "仍有必要 still needed"}
    as_officer.call("POST", renew, 403, json=body)
    as_chief.call("POST", renew, 422, json={k: v for k, v in body.items() if k != "assessment"})
    as_chief.call("POST", renew, 422, json=body | {"ends_on": "2031-05-29"})
    renewal = as_chief.call("POST", renew, 201, json=body)
    assert (renewal["starts_on"], renewal["renews_id"]) == ("2031-03-01", first["id"])
    as_chief.call("POST", renew, 409, json=body)  # renewed already: renew the renewal

    # Released (解除): the period and its renewal end; a released period cannot be renewed.
    released = as_chief.call(
        "POST", f"{periods_path}/{first['id']}/release", json={"reason": "不需要继续使用 no longer needed"}
    )
    assert {r["id"] for r in released} == {first["id"], renewal["id"]}
    as_chief.call("POST", renew, 409, json=body)
    history = as_officer.call("GET", periods_path)
    assert [p["id"] for p in history] == [first["id"], renewal["id"], leap["id"]]
    assert [p["released_by"] for p in history] == [chief["id"], chief["id"], None]
    as_chief.call("POST", f"{periods_path}/{leap['id']}/release", json={"reason": "no longer needed"})
    assert as_officer.call("GET", f"/supervisees/{person['id']}")["monitoring"] is None

    # A period in force now, ending in 5 days: the officer sees it, the days left and the reminder.
    current = period(today() - timedelta(days=20), today() + timedelta(days=5))
    seen = as_officer.call("GET", f"/supervisees/{person['id']}")
    assert seen["monitoring"] == {
        "period_id": current["id"],
        "starts_on": current["starts_on"],
        "ends_on": current["ends_on"],
        "days_left": 5,
        "ending_soon": True,
    }
    assert (seen["monitoring_start"], seen["monitoring_end"]) == (current["starts_on"], current["ends_on"])
    ending = as_officer.call("GET", "/monitoring/ending")
    assert [(e["supervisee_id"], e["days_left"]) for e in ending] == [(person["id"], 5)]
    assert as_officer.call("GET", "/monitoring/ending?within_days=4") == []
    with httpx.Client(base_url=portal_url) as browser:
        browser.post("/login", data={"username": officer["username"], "password": STAFF_PASSWORD})
        page = browser.get("/").text
    assert f'data-supervisee-id="{person["id"]}"' in page.split('id="monitoring-ending"')[1]
    began = periods.begins_at(date.fromisoformat(current["starts_on"]), ZoneInfo("Asia/Shanghai"))
    assert monitoring.monitored_since(session=db, supervisee_ids=[person["id"]]) == {person["id"]: began}

    # Renewed, monitoring goes on 3 more months: no reminder any more.
    as_chief.call(
        "POST",
        f"{periods_path}/{current['id']}/renew",
        201,
        json={"ends_on": str(today() + timedelta(days=60)), "grounds": LEFT_AREA, "assessment": "still needed"},
    )
    seen = as_officer.call("GET", f"/supervisees/{person['id']}")["monitoring"]
    assert (seen["period_id"], seen["days_left"], seen["ending_soon"]) == (current["id"], 60, False)
    assert as_officer.call("GET", "/monitoring/ending") == []


def test_silence_counts_from_the_start_of_a_renewed_chain_not_of_its_latest_renewal(admin_api, db):
    person = admin_api.supervisee(admin_api.district()["id"], monitored=False)
    admin = admin_api.call("GET", "/auth/me")["id"]
    first = MonitoringPeriod(
        supervisee_id=person["id"],
        starts_on=today() - timedelta(days=60),
        ends_on=today() - timedelta(days=31),
        grounds=[MonitoringGround.revocation_pending],
        approved_by=admin,
        approved_at=datetime.now(ZoneInfo("UTC")) - timedelta(days=61),
    )
    db.add(first)
    db.flush()
    renewal = MonitoringPeriod(
        supervisee_id=person["id"],
        renews_id=first.id,
        starts_on=today() - timedelta(days=30),
        ends_on=today() + timedelta(days=20),
        grounds=[MonitoringGround.revocation_pending],
        approved_by=admin,
        approved_at=first.approved_at + timedelta(days=25),
    )
    db.add(renewal)
    db.flush()
    began = periods.begins_at(first.starts_on, ZoneInfo("Asia/Shanghai"))
    assert monitoring.monitored_since(session=db, supervisee_ids=[person["id"]]) == {person["id"]: began}
