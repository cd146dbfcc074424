"""The roll-call answerer's decisions, without a platform: who answers how, when, and the labels that
say what each answer really was against the roll call's deadlines."""

import random

import pytest

from simulators import city, demo, fleet, phones, rollcall_plans, rollcalls

ISSUED, DEADLINE, CLOSES = 1_000_000.0, 1_000_060.0, 1_000_120.0  # a 1-minute deadline, closing at 2


def call(mode: str = "phone") -> rollcall_plans.Call:
    return rollcall_plans.Call(7, 3, 0, mode, ISSUED, DEADLINE, CLOSES)


@pytest.fixture(scope="module")
def people() -> fleet.Fleet:
    return fleet.build(city.PRESETS["benxi"], 300, seed=5)


def test_roles_keep_the_fleets_scenarios_and_draw_the_share_from_the_others(people):
    found = rollcall_plans.roles(people, 0.3, each_at_least=1)
    for p, role in enumerate(found):
        scenario = people.scenario_name(p)
        if scenario in ("rollcall_late", "rollcall_missed"):
            assert role == {"rollcall_late": "late", "rollcall_missed": "missed"}[scenario]
        elif scenario is not None:
            assert role is None  # their own scenario keeps its labels
    drawn = [r for p, r in enumerate(found) if people.scenario_name(p) is None and r]
    assert 0.2 < len(drawn) / sum(people.scenario_name(p) is None for p in range(300)) < 0.4
    assert {r for r in drawn} == set(rollcall_plans.ROLES)
    assert rollcall_plans.roles(people, 0.3, each_at_least=1) == found  # a pure function of the fleet


def test_at_least_one_of_each_even_with_no_share():
    small = fleet.build(city.PRESETS["benxi"], 20, seed=2, scenario_share=0.0)
    found = rollcall_plans.roles(small, 0.0, each_at_least=1)
    assert sorted(r for r in found if r) == ["late", "mismatch", "missed"]


@pytest.mark.parametrize("seed", range(40))
def test_answers_keep_clear_of_the_deadline_and_the_close(seed):
    rng = random.Random(seed)
    for role in (None, "late", "mismatch"):
        now = ISSUED + rng.uniform(0, 100)  # learnt of it some time after it was issued
        plan = rollcall_plans.plan_answer(call(), role, rng, now=now, phone_back_at=None)
        if plan.at is None:
            assert now > CLOSES - rollcall_plans.MARGIN_S - rollcall_plans.MARGIN_S  # no time left to answer
            continue
        assert plan.at >= now
        if plan.late:
            assert DEADLINE + rollcall_plans.MARGIN_S <= plan.at <= CLOSES - rollcall_plans.MARGIN_S
        else:
            assert plan.at <= DEADLINE - rollcall_plans.MARGIN_S
        assert plan.late == (role == "late" or plan.at > DEADLINE)
        assert plan.mismatch == (role == "mismatch")


def test_a_phone_off_at_the_call_answers_when_back_on_and_that_makes_the_label():
    rng = random.Random(1)
    late = rollcall_plans.plan_answer(call(), None, rng, now=ISSUED, phone_back_at=DEADLINE - 5)
    assert late.late and late.at >= DEADLINE + rollcall_plans.MARGIN_S
    missed = rollcall_plans.plan_answer(call(), None, rng, now=ISSUED, phone_back_at=CLOSES)
    assert missed.at is None
    assert [label["kind"] for label in rollcall_plans.labels(missed, "P1")] == ["rollcall_missed"]


def test_labels_name_the_person_the_roll_call_and_the_rule():
    plan = rollcall_plans.Plan(call(), DEADLINE + 30, late=True, mismatch=True)
    found = rollcall_plans.labels(plan, "SIM005-000001")
    assert {(f["kind"], f["rule"], f["expected_level"]) for f in found} == {
        ("rollcall_late", "rollcall_late", "yellow"),
        ("rollcall_mismatch", "identity_check_failed", "red"),
    }
    assert all(f["supervisee"] == "SIM005-000001" and f["roll_call_id"] == 3 and f["target_id"] == 7 for f in found)
    assert all(f["start"] == ISSUED and f["end"] == DEADLINE + 30 for f in found)
    assert rollcall_plans.labels(rollcall_plans.Plan(call(), ISSUED + 20), "P") == []
    # Only a phone answer can be 人机分离: at a camera the camera identifies the person.
    at_camera = rollcall_plans.plan_answer(call("camera"), "mismatch", random.Random(2), now=ISSUED, phone_back_at=None)
    assert not at_camera.mismatch


def test_the_answer_photo_is_a_jpeg():
    jpeg = phones.photo(200)
    assert jpeg.startswith(b"\xff\xd8\xff") and jpeg.endswith(b"\xff\xd9")
    assert len(jpeg) < 200 and phones.photo(10) != jpeg


def test_the_demos_rules_and_opening_roll_call_are_what_the_platform_takes():
    from rollcall import schemas

    rules = [schemas.RuleIn.model_validate(rule | {"district_id": 1}) for rule in demo.ROLLCALL_RULES]
    assert {(r.risk_level, r.period, r.times_per_period) for r in rules} == {
        ("high", "day", 2),
        ("medium", "day", 1),
        ("low", "week", 1),
    }
    deadline_min, close_min = demo.OPENING_ROLLCALL_MIN
    body = rollcalls.ad_hoc(district_id=1, deadline_min=deadline_min, close_min=close_min, message="点名")
    assert schemas.RollCallIn.model_validate(body).audience.district_id == 1


def test_the_quality_bench_scores_each_kinds_alerts_against_the_labels():
    from bench import rollcall_quality

    labels = [{"supervisee": "A", "kind": "rollcall_mismatch"}, {"supervisee": "B", "kind": "rollcall_missed"}]
    targets = [{"supervisee_id": 1, "status": "answered"}, {"supervisee_id": 2, "status": "missed"}]
    targets.append({"supervisee_id": 3, "status": "missed"})  # answered, but marked missed
    alerts = [
        {"rule": "identity_check_failed", "supervisee_id": 1, "evidence": {}},
        {"rule": "identity_check_failed", "supervisee_id": 3, "evidence": {"distance_m": 1400.0}},
        {"rule": "rollcall_missed", "supervisee_id": 2, "evidence": {}},
    ]
    found = rollcall_quality.score(["A", "B", "C"], [1, 2, 3], labels, targets, alerts)
    assert found["mismatch"] == {"labelled": 1, "alerts": 2, "precision": 0.5, "recall": 1.0}
    assert found["missed"]["precision"] == found["missed"]["recall"] == 1.0
    assert found["late"] == {"labelled": 0, "alerts": 0, "precision": 1.0, "recall": 1.0}
    assert found["false_missed"] == 1 and found["min_precision_recall"] == 0.5
    assert found["false_mismatch_evidence"][0]["distance_m"] == 1400.0


def test_a_report_at_the_office_counts_from_the_offices_opening_on_its_date():
    issued = {"issued_at": "2026-12-03T09:00:00+00:00", "office_date": None}
    assert rollcalls._answerable_from(issued | {"mode": "phone"}) == rollcalls.epoch("2026-12-03T09:00:00+00:00")
    office = issued | {"mode": "office", "office_date": "2026-12-05"}
    assert rollcalls._answerable_from(office) == rollcalls.epoch("2026-12-05T09:00:00+08:00")
    today = issued | {"mode": "office", "office_date": "2026-12-03"}  # issued after the opening: at once
    assert rollcalls._answerable_from(today) == rollcalls.epoch("2026-12-03T09:00:00+00:00")


def test_mismatches_go_to_people_whose_trackers_report_often(people):
    found = rollcall_plans.roles(people, 0.3, each_at_least=3)
    apart = [p for p, role in enumerate(found) if role == "mismatch"]
    assert len(apart) >= 3 and all(people.gps_interval_s[p] <= rollcall_plans.MISMATCH_GPS_S for p in apart)
