"""Reads for the staff portal. The dashboard's figures are counts and times only: nothing in them names a patient."""

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import TruncDate

from calls.models import Call, Message, ToolCall, Turn
from calls.selectors import PROVIDER_ROLES
from tenants.models import Tenant
from tenants.selectors import staff_roles_by_tenant

DASHBOARD_DAYS = 7
# Call.outcome's values in the order staff read them; "" is a call with no outcome (yet): in progress or failed.
OUTCOMES = [*Call.Outcome.values, ""]
# The phone agent's booking tool as ToolCall.name records it. An appointment keeps only its source ("phone"),
# not the call that made it, so a test call's booking is told apart only through the call's tool calls.
BOOKING_TOOL = "book_appointment"
# The latest reply times a period's percentiles are computed from: weeks of a busy practice stay one small query.
LATENCY_SAMPLE_LIMIT = 20_000


@dataclass(frozen=True)
class Figures:
    """One period's figures: a local day, or the whole window."""

    start: dt.datetime  # UTC; inclusive
    end: dt.datetime  # UTC; exclusive
    calls: int
    outcomes: dict[str, int]  # every key of OUTCOMES, in that order
    appointments_made: int
    latency_p50_ms: float | None  # None: no phone reply in the period
    latency_p95_ms: float | None
    replies_timed: int
    fallbacks: dict[str, int]  # provider role (PROVIDER_ROLES) -> calls that fell back from it


@dataclass(frozen=True)
class DashboardFigures:
    tenant: Tenant
    days: list[dt.date]  # the window's local days, oldest first; the last is today
    today: Figures
    week: Figures
    per_day: list[Figures]  # one per entry of `days`
    messages_waiting: int  # all new messages, whenever they were left


def _percentile(ordered: list[float], fraction: float) -> float | None:
    """Linear between the closest ranks, as PostgreSQL's percentile_cont."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _day_start(day: dt.date, tz) -> dt.datetime:
    # In UTC: aware datetimes of one zone subtract as wall-clock times, so a 23-hour day would seem 24.
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz).astimezone(dt.UTC)


def _figures(*, start, end, outcomes: Counter, made: int, latencies: list[float], fallbacks: Counter) -> Figures:
    ordered = sorted(latencies)
    return Figures(
        start=start,
        end=end,
        calls=sum(outcomes.values()),
        outcomes={outcome: outcomes[outcome] for outcome in OUTCOMES},
        appointments_made=made,
        latency_p50_ms=_percentile(ordered, 0.5),
        latency_p95_ms=_percentile(ordered, 0.95),
        replies_timed=len(ordered),
        fallbacks={role: fallbacks[role] for role in PROVIDER_ROLES},
    )


def dashboard_figures(*, tenant: Tenant, now: dt.datetime) -> DashboardFigures:
    """Today and the last 7 days of the practice, by its own clock; test calls count nowhere. Five queries."""
    tz = tenant.tzinfo
    today = now.astimezone(tz).date()
    days = [today - dt.timedelta(days=back) for back in range(DASHBOARD_DAYS - 1, -1, -1)]
    starts = [_day_start(day, tz) for day in days]
    window_end = _day_start(today + dt.timedelta(days=1), tz)
    calls = Call.objects.for_tenant(tenant).filter(is_test=False, started_at__gte=starts[0], started_at__lt=window_end)

    outcomes: dict[dt.date, Counter] = {day: Counter() for day in days}
    rows = calls.annotate(day=TruncDate("started_at", tzinfo=tz)).values("day", "outcome").annotate(n=Count("pk"))
    for row in rows.order_by():
        outcomes[row["day"]][row["outcome"]] += row["n"]

    made: Counter = Counter()
    booked = ToolCall.objects.filter(
        call__tenant=tenant, call__is_test=False, name=BOOKING_TOOL, ok=True, at__gte=starts[0], at__lt=window_end
    )
    for row in booked.annotate(day=TruncDate("at", tzinfo=tz)).values("day").annotate(n=Count("pk")).order_by():
        made[row["day"]] = row["n"]

    latencies: dict[dt.date, list[float]] = {day: [] for day in days}
    replies = (
        Turn.objects.filter(
            call__tenant=tenant, call__is_test=False, call__channel=Call.Channel.PHONE, speaker=Turn.Speaker.AGENT,
            at__gte=starts[0], at__lt=window_end,
        )
        .annotate(ms=KeyTransform("first_frame_sent_ms", "latency"))
        .order_by("-at")
        .values_list("at", "ms")[:LATENCY_SAMPLE_LIMIT]
    )
    for at, ms in replies:
        if isinstance(ms, (int, float)):  # a reply never sent (the caller hung up) records None
            latencies[at.astimezone(tz).date()].append(float(ms))

    fallbacks: dict[dt.date, Counter] = {day: Counter() for day in days}
    fell_back = calls.filter(Q(fell_back_to_rules=True) | ~Q(fallbacks=[])).values_list(
        "started_at", "fell_back_to_rules", "fallbacks"
    )
    for started_at, to_rules, providers in fell_back:
        fallbacks[started_at.astimezone(tz).date()].update({*providers, *(["conversation"] if to_rules else [])})

    ends = [*starts[1:], window_end]
    per_day = [
        _figures(start=start, end=end, outcomes=outcomes[day], made=made[day], latencies=latencies[day],
                 fallbacks=fallbacks[day])
        for day, start, end in zip(days, starts, ends)
    ]
    week = _figures(
        start=starts[0], end=window_end, outcomes=sum(outcomes.values(), Counter()), made=sum(made.values()),
        latencies=[ms for day in days for ms in latencies[day]], fallbacks=sum(fallbacks.values(), Counter()),
    )
    return DashboardFigures(
        tenant=tenant,
        days=days,
        today=per_day[-1],
        week=week,
        per_day=per_day,
        messages_waiting=Message.objects.for_tenant(tenant).filter(status=Message.Status.NEW)
        .exclude(call__is_test=True).count(),
    )


def dashboard_practices(*, user: AbstractBaseUser) -> list[Tenant]:
    """The practices whose dashboard the user may see, by name: their own; a superuser's, every practice."""
    practices = Tenant.objects.filter(is_active=True).order_by("name", "pk")
    if user.is_superuser:
        return list(practices)
    return list(practices.filter(pk__in=staff_roles_by_tenant(user=user).keys()))
