import datetime as dt

import pytest

from calls.models import Call, ToolCall, Turn


@pytest.fixture
def place_call():
    """A call of the practice that started at `at`, with its outcome, its agent replies' times and its bookings.

    Rows are made directly: started_at, Turn.at and ToolCall.at are set on creation, so they are moved after it.
    """

    def place(tenant, at: dt.datetime, outcome: str = Call.Outcome.ANSWERED, *, channel=Call.Channel.PHONE,
              is_test: bool = False, replies_ms: tuple = (), bookings: int = 0, refused_bookings: int = 0,
              fallbacks: tuple[str, ...] = (), fell_back_to_rules: bool = False, **fields) -> Call:
        call = Call.objects.create(tenant=tenant, channel=channel, outcome=outcome, is_test=is_test,
                                   status=Call.Status.COMPLETED, fallbacks=list(fallbacks),
                                   fell_back_to_rules=fell_back_to_rules, **fields)
        Call.objects.filter(pk=call.pk).update(started_at=at)
        for index, ms in enumerate(replies_ms):
            Turn.objects.create(call=call, index=2 * index, speaker=Turn.Speaker.CALLER, text="I'd like a cleaning.",
                                latency={"first_frame_sent_ms": 5})  # a caller's turn times nothing
            Turn.objects.create(call=call, index=2 * index + 1, speaker=Turn.Speaker.AGENT, text="Sure.",
                                latency={"end_of_turn_wait_ms": 600, "first_frame_sent_ms": ms})
        for index in range(bookings + refused_bookings):
            ToolCall.objects.create(call=call, index=index, name="book_appointment", ok=index < bookings)
        Turn.objects.filter(call=call).update(at=at + dt.timedelta(seconds=30))
        ToolCall.objects.filter(call=call).update(at=at + dt.timedelta(seconds=40))
        call.refresh_from_db()
        return call

    return place
