"""The practice dashboard on the admin index: which practice it shows, its figures as text with links, its charts' data.

Counts and times only, so viewing it is not a view of patient data and is not audited.
"""

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from calls.models import Call, Message
from portal.selectors import OUTCOMES, DashboardFigures, Figures, dashboard_figures, dashboard_practices
from tenants.models import Tenant

OUTCOME_LABELS = {**dict(Call.Outcome.choices), Call.Outcome.RESCHEDULED: "Moved", "": "No outcome yet"}
PROVIDER_LABELS = {"stt": "Speech recognition", "tts": "Voice", "conversation": "Conversation (rules took over)"}


def _outcome_slug(outcome: str) -> str:
    """The outcome as it appears in ids and classes."""
    return outcome.replace("_", "-") or "none"


@dataclass(frozen=True)
class Figure:
    key: str  # element ids: dashboard-<key>-today, dashboard-<key>-week
    label: str
    today: str
    week: str
    today_url: str = ""
    week_url: str = ""


@dataclass(frozen=True)
class Dashboard:
    practice: Tenant
    practices: list[Tenant]  # to pick from; one practice needs no picking
    today: dt.date
    first_day: dt.date
    headline: list[Figure]
    outcomes: list[Figure]
    fallbacks: list[Figure]
    messages_waiting: int
    messages_url: str
    days: list[dict]  # the per-day table: {"day", "calls", "outcomes": [...], "p50", "p95"}
    chart: dict  # for json_script: what dashboard.js draws
    has_calls: bool
    has_latency: bool


def _changelist(model, **params) -> str:
    return f"{reverse(f'admin:{model._meta.app_label}_{model._meta.model_name}_changelist')}?{urlencode(params)}"


def _calls_url(tenant: Tenant, period: Figures, **params) -> str:
    # Bounds in UTC: the changelist reads them the same whatever time zone the viewer's page is in.
    # Test calls are left out there too, so the list holds what the figure counts.
    return _changelist(Call, tenant__id__exact=tenant.pk, is_test__exact=0, started_at__gte=period.start.isoformat(),
                       started_at__lt=period.end.isoformat(), **params)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{round(value):,} ms"


def _count_figure(key, label, tenant, figures, count, **params) -> Figure:
    return Figure(
        key=key, label=label, today=f"{count(figures.today):,}", week=f"{count(figures.week):,}",
        today_url=_calls_url(tenant, figures.today, **params), week_url=_calls_url(tenant, figures.week, **params),
    )


def _dashboard(figures: DashboardFigures, practices: list[Tenant]) -> Dashboard:
    tenant = figures.tenant
    today, week = figures.today, figures.week
    headline = [
        _count_figure("calls", "Calls", tenant, figures, lambda period: period.calls),
        Figure(key="appointments-made", label="Appointments the receptionist made",
               today=f"{today.appointments_made:,}", week=f"{week.appointments_made:,}"),
        Figure(key="latency-p50", label="Reply time, median", today=_ms(today.latency_p50_ms), week=_ms(week.latency_p50_ms)),
        Figure(key="latency-p95", label="Reply time, 95th percentile", today=_ms(today.latency_p95_ms),
               week=_ms(week.latency_p95_ms)),
    ]
    shown = [outcome for outcome in OUTCOMES if outcome or week.outcomes[outcome]]
    outcomes = [
        _count_figure(f"outcome-{_outcome_slug(outcome)}", OUTCOME_LABELS[outcome], tenant, figures,
                      lambda period, outcome=outcome: period.outcomes[outcome], outcome__exact=outcome)
        for outcome in shown
    ]
    fallbacks = [
        Figure(key=f"fallback-{role}", label=label, today=f"{today.fallbacks[role]:,}", week=f"{week.fallbacks[role]:,}")
        for role, label in PROVIDER_LABELS.items()
    ]
    charted = [outcome for outcome in shown if week.outcomes[outcome]]
    labels = [f"{day:%a} {day.day}" for day in figures.days]
    days = [
        {"day": day, "calls": period.calls, "outcomes": [period.outcomes[outcome] for outcome in shown],
         "p50": _ms(period.latency_p50_ms), "p95": _ms(period.latency_p95_ms)}
        for day, period in zip(figures.days, figures.per_day)
    ]
    chart = {
        "labels": labels,
        "outcomes": [
            {"name": OUTCOME_LABELS[outcome], "className": f"dashboard-outcome-{_outcome_slug(outcome)}",
             "data": [period.outcomes[outcome] for period in figures.per_day]}
            for outcome in charted
        ],
        "latency": [
            {"name": name, "className": f"dashboard-latency-{key}",
             "data": [None if getattr(period, attr) is None else round(getattr(period, attr))
                      for period in figures.per_day]}
            for key, name, attr in [("p50", "Median", "latency_p50_ms"), ("p95", "95th percentile", "latency_p95_ms")]
        ],
    }
    return Dashboard(
        practice=tenant, practices=practices if len(practices) > 1 else [], today=figures.days[-1],
        first_day=figures.days[0], headline=headline, outcomes=outcomes, fallbacks=fallbacks,
        messages_waiting=figures.messages_waiting,
        # Without test calls' messages, as the figure counts them.
        messages_url=_changelist(Message, tenant__id__exact=tenant.pk, status__exact=Message.Status.NEW, test="hide"),
        days=days, chart=chart, has_calls=week.calls > 0, has_latency=week.replies_timed > 0,
    )


def practice_dashboard(*, request, now: dt.datetime) -> dict:
    """The index's context for the dashboard: none for a user of no practice.

    `?practice=<slug>` picks among the user's own practices; any other slug shows the first of them.
    """
    practices = dashboard_practices(user=request.user)
    if not practices:
        return {}
    wanted = request.GET.get("practice", "")
    practice = next((tenant for tenant in practices if tenant.slug == wanted), practices[0])
    return {"dashboard": _dashboard(dashboard_figures(tenant=practice, now=now), practices)}
