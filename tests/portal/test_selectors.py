"""The practice dashboard's figures: the practice's own local days, its real calls only, counts and times."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from calls.models import Call, Message, ToolCall
from portal.selectors import BOOKING_TOOL, dashboard_figures, dashboard_practices
from tenants.models import StaffMembership

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# 07:00 on Wednesday 6 May 2026 in Chicago (CDT, UTC-5): today began at 05:00 UTC, the window at 05:00 UTC on 30 April.
NOW = dt.datetime(2026, 5, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def chicago(make_practice):
    return make_practice("chicago")[0]


def test_days_are_the_practices_local_days(chicago, place_call):
    place_call(chicago, dt.datetime(2026, 5, 6, 5, 0, tzinfo=UTC), Call.Outcome.BOOKED)  # 00:00 today
    place_call(chicago, dt.datetime(2026, 5, 6, 4, 59, tzinfo=UTC), Call.Outcome.CANCELLED)  # 23:59 yesterday
    place_call(chicago, dt.datetime(2026, 4, 30, 5, 0, tzinfo=UTC), Call.Outcome.TRANSFERRED)  # 00:00 of the first day
    place_call(chicago, dt.datetime(2026, 4, 30, 4, 59, tzinfo=UTC), Call.Outcome.ABANDONED)  # the day before

    figures = dashboard_figures(tenant=chicago, now=NOW)

    assert figures.days == [dt.date(2026, 4, 30) + dt.timedelta(days=n) for n in range(7)]
    assert figures.today.calls == 1 and figures.today.outcomes["booked"] == 1
    assert figures.week.calls == 3
    assert {k: v for k, v in figures.week.outcomes.items() if v} == {"booked": 1, "cancelled": 1, "transferred": 1}
    assert [day.calls for day in figures.per_day] == [1, 0, 0, 0, 0, 1, 1]
    assert figures.week.start == dt.datetime(2026, 4, 30, 5, 0, tzinfo=UTC)
    assert figures.today.end == dt.datetime(2026, 5, 7, 5, 0, tzinfo=UTC)


def test_the_local_day_follows_the_practice_not_utc(chicago, place_call):
    # 20:00 in Chicago on 5 May is already 6 May in UTC: it is yesterday's call, not today's.
    place_call(chicago, dt.datetime(2026, 5, 6, 1, 0, tzinfo=UTC))
    late_evening = dt.datetime(2026, 5, 6, 4, 30, tzinfo=UTC)  # 23:30 on 5 May in Chicago

    assert dashboard_figures(tenant=chicago, now=late_evening).today.calls == 1
    assert dashboard_figures(tenant=chicago, now=NOW).today.calls == 0


def test_the_day_the_clocks_change_is_23_hours(chicago):
    figures = dashboard_figures(tenant=chicago, now=dt.datetime(2026, 3, 10, 18, 0, tzinfo=UTC))
    spring_forward = figures.per_day[figures.days.index(dt.date(2026, 3, 8))]
    assert spring_forward.end - spring_forward.start == dt.timedelta(hours=23)


def test_test_calls_count_nowhere(chicago, place_call):
    today = dt.datetime(2026, 5, 6, 9, 0, tzinfo=UTC)
    place_call(chicago, today, Call.Outcome.BOOKED, replies_ms=(800,), bookings=1, fallbacks=("tts",))
    test_call = place_call(chicago, today, Call.Outcome.MESSAGE_TAKEN, is_test=True, replies_ms=(5000, 6000),
                           bookings=2, fallbacks=("stt",), fell_back_to_rules=True)
    Message.objects.create(tenant=chicago, call=test_call, about="Testing the message taking.")

    figures = dashboard_figures(tenant=chicago, now=NOW)

    for period in (figures.today, figures.week):
        assert period.calls == 1 and period.outcomes["booked"] == 1 and period.outcomes["message_taken"] == 0
        assert period.appointments_made == 1
        assert (period.latency_p50_ms, period.latency_p95_ms, period.replies_timed) == (800, 800, 1)
        assert period.fallbacks == {"stt": 0, "tts": 1, "conversation": 0}
    assert figures.messages_waiting == 0


def test_every_outcome_is_counted_and_calls_without_one_too(chicago, place_call):
    today = dt.datetime(2026, 5, 6, 9, 0, tzinfo=UTC)
    for outcome in [*Call.Outcome.values, Call.Outcome.MESSAGE_TAKEN, ""]:
        place_call(chicago, today, outcome)

    outcomes = dashboard_figures(tenant=chicago, now=NOW).today.outcomes

    assert outcomes == {"booked": 1, "rescheduled": 1, "cancelled": 1, "transferred": 1, "message_taken": 2,
                        "answered": 1, "abandoned": 1, "": 1}
    assert list(outcomes) == [*Call.Outcome.values, ""]


def test_reply_time_percentiles_from_phone_agent_turns(chicago, place_call):
    place_call(chicago, dt.datetime(2026, 5, 6, 9, 0, tzinfo=UTC), replies_ms=[100.0 * n for n in range(1, 21)])
    place_call(chicago, dt.datetime(2026, 5, 4, 9, 0, tzinfo=UTC), replies_ms=(4000, None))  # None: never sent
    place_call(chicago, dt.datetime(2026, 5, 6, 9, 0, tzinfo=UTC), channel=Call.Channel.TEXT, replies_ms=(9000,))

    figures = dashboard_figures(tenant=chicago, now=NOW)

    # As PostgreSQL's percentile_cont: 100..2000 ms, the median between 1000 and 1100, p95 at 1905.
    assert (figures.today.latency_p50_ms, figures.today.latency_p95_ms) == (1050, 1905)
    assert figures.today.replies_timed == 20
    # With Monday's 4000 ms: 21 values, the median the 11th, p95 the 20th exactly.
    assert (figures.week.replies_timed, figures.week.latency_p50_ms, figures.week.latency_p95_ms) == (21, 1100, 2000)
    monday = figures.per_day[figures.days.index(dt.date(2026, 5, 4))]
    assert (monday.latency_p50_ms, monday.latency_p95_ms) == (4000, 4000)
    assert figures.per_day[0].latency_p50_ms is None


def test_appointments_made_are_the_receptionists_bookings_that_went_through(chicago, place_call):
    place_call(chicago, dt.datetime(2026, 5, 6, 9, 0, tzinfo=UTC), Call.Outcome.BOOKED, bookings=2, refused_bookings=1)
    place_call(chicago, dt.datetime(2026, 5, 2, 9, 0, tzinfo=UTC), Call.Outcome.BOOKED, bookings=1)
    place_call(chicago, dt.datetime(2026, 4, 20, 9, 0, tzinfo=UTC), Call.Outcome.BOOKED, bookings=1)

    figures = dashboard_figures(tenant=chicago, now=NOW)

    assert (figures.today.appointments_made, figures.week.appointments_made) == (2, 3)


def test_the_booking_tool_is_the_phone_agents():
    from voice.conversation.tools import TOOLS

    assert BOOKING_TOOL in TOOLS


def test_fallbacks_are_counted_by_provider(chicago, place_call):
    place_call(chicago, dt.datetime(2026, 5, 6, 9, 0, tzinfo=UTC), fallbacks=("stt", "tts"))
    place_call(chicago, dt.datetime(2026, 5, 6, 10, 0, tzinfo=UTC), fell_back_to_rules=True)
    place_call(chicago, dt.datetime(2026, 5, 3, 10, 0, tzinfo=UTC), fallbacks=("tts",))
    place_call(chicago, dt.datetime(2026, 5, 3, 11, 0, tzinfo=UTC))

    figures = dashboard_figures(tenant=chicago, now=NOW)

    assert figures.today.fallbacks == {"stt": 1, "tts": 1, "conversation": 1}
    assert figures.week.fallbacks == {"stt": 1, "tts": 2, "conversation": 1}


def test_messages_waiting_are_every_new_message_of_the_practice(chicago, make_practice):
    other = make_practice("other", phone="+15557770002")[0]
    old = Message.objects.create(tenant=chicago, about="Call me back about my crown.")
    Message.objects.filter(pk=old.pk).update(created_at=dt.datetime(2026, 1, 2, tzinfo=UTC))
    Message.objects.create(tenant=chicago, about="Running late.")
    Message.objects.create(tenant=chicago, about="Done.", status=Message.Status.HANDLED)
    Message.objects.create(tenant=other, about="Elsewhere.")

    assert dashboard_figures(tenant=chicago, now=NOW).messages_waiting == 2


def test_another_practices_calls_count_nowhere(chicago, make_practice, place_call):
    other = make_practice("other", phone="+15557770002")[0]
    place_call(other, dt.datetime(2026, 5, 6, 9, 0, tzinfo=UTC), Call.Outcome.BOOKED, replies_ms=(700,), bookings=1,
               fallbacks=("tts",))

    figures = dashboard_figures(tenant=chicago, now=NOW)

    assert (figures.week.calls, figures.week.appointments_made, figures.week.replies_timed) == (0, 0, 0)
    assert figures.week.fallbacks == {"stt": 0, "tts": 0, "conversation": 0}
    assert not ToolCall.objects.filter(call__tenant=chicago).exists()


def test_dashboard_practices_are_the_users_own_or_all_for_a_superuser(chicago, make_practice):
    second, third = make_practice("second")[0], make_practice("third")[0]
    users = get_user_model().objects
    desk = users.create_user(username="desk", is_staff=True)
    for tenant in (chicago, second):
        StaffMembership.objects.create(tenant=tenant, user=desk, role=StaffMembership.Role.FRONT_DESK)
    nobody = users.create_user(username="nobody", is_staff=True)
    root = users.create_superuser(username="root")

    assert dashboard_practices(user=desk) == [chicago, second]
    assert dashboard_practices(user=nobody) == []
    assert dashboard_practices(user=root) == [chicago, second, third]


def test_a_busy_week_costs_the_same_few_queries(chicago, place_call, django_assert_num_queries):
    for day in range(7):
        place_call(chicago, dt.datetime(2026, 4, 30, 10, 0, tzinfo=UTC) + dt.timedelta(days=day), replies_ms=(500, 700),
                   bookings=1, fallbacks=("stt",))

    with django_assert_num_queries(5):
        figures = dashboard_figures(tenant=chicago, now=NOW)

    assert figures.week.calls == 7 and figures.week.replies_timed == 14
