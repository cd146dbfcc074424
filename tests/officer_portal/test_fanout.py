"""The hub's fan-out on its own (no broker): each notice reaches its audience only, and a client
that falls too far behind is dropped without holding the others back."""

from datetime import UTC, datetime

from officer_portal import live
from officer_portal.schemas import AlertNotice
from tests.factories import run_async

ALICE, BOB = 1, 2


def notice(alert_id: int) -> AlertNotice:
    now = datetime.now(UTC)
    return AlertNotice(
        alert_id=alert_id,
        supervisee_id=10,
        kind="opened",
        level="yellow",
        status="open",
        rule="inclusion_exit",
        started_at=now,
        ended_at=None,
        updated_at=now,
        supervisee_code="S1",
        supervisee_name="张三",
    )


async def subscribed(hub: live.LiveHub, officer_id: int):
    stream = hub.events(officer_id=officer_id, resume_from=None)
    ready = await anext(stream)
    assert (ready.event, ready.retry) == ("ready", live.RETRY_MS)
    return stream


def test_notices_reach_their_audience_and_a_client_too_far_behind_is_dropped():
    async def scenario():
        hub = live.LiveHub()
        alice, bob = await subscribed(hub, ALICE), await subscribed(hub, BOB)

        hub.deliver([(notice(1), frozenset({BOB}))])
        assert (await anext(bob)).data.alert_id == 1

        # Alice reads nothing while one more notice than her queue holds arrives for her.
        hub.deliver([(notice(n), frozenset({ALICE})) for n in range(live.QUEUE_SIZE + 1)])
        hub.deliver([(notice(2), frozenset({ALICE, BOB}))])
        assert (await anext(bob)).data.alert_id == 2
        try:
            await anext(alice)
        except StopAsyncIteration:
            pass  # her stream ended: her browser reconnects and catches up
        else:
            raise AssertionError("a client too far behind must be dropped")
        await bob.aclose()

    run_async(scenario())
