"""The practice's facts: hours, closures, address, parking, insurance, what new patients should know."""

import datetime as dt

from pydantic import Field

from tenants.selectors import PracticeFacts, practice_facts
from tenants.spoken import say_date, say_day_hours, say_intervals, say_week, say_weekday_hours
from voice.conversation.tools.context import ReceptionistTools
from voice.conversation.tools.registry import Arguments, tool
from voice.conversation.tools.results import Closure, DayHours, InsuranceAnswer, PracticeInfo


class PracticeInfoArguments(Arguments):
    date: dt.date | None = Field(None, description="YYYY-MM-DD: also that day's hours.")


class CheckInsurance(Arguments):
    name: str = Field(min_length=1)


def day_hours(facts: PracticeFacts, day: dt.date) -> DayHours:
    intervals, closed_for = facts.hours_on(day)
    return DayHours(date=day, open=bool(intervals), hours=say_intervals(intervals),
                    sentence=say_day_hours(day, intervals, closed_for))


@tool("practice_info", "Hours (today, a given date, the week), closures, address, parking, insurance, new-patient note.",
      PracticeInfoArguments)
def practice_info(tools: ReceptionistTools, args: PracticeInfoArguments) -> PracticeInfo:
    today = tools.today()
    facts = practice_facts(tenant=tools.tenant, today=today)
    return PracticeInfo(
        practice=facts.name,
        address=facts.address,
        parking=facts.parking,
        insurance_accepted=facts.insurance_accepted,
        insurance_not_accepted=facts.insurance_not_accepted,
        new_patient_note=facts.new_patient_note,
        today=day_hours(facts, today),
        week=say_week(facts.week),
        weekdays=[say_weekday_hours(weekday, facts.week.get(weekday, [])) for weekday in range(7)],
        upcoming_closures=[Closure(date=d, spoken_date=say_date(d), reason=r) for d, r in list(facts.closures.items())[:5]],
        day=day_hours(facts, args.date) if args.date else None,
    )


@tool("check_insurance", "Whether the practice accepts an insurance plan.", CheckInsurance)
def check_insurance(tools: ReceptionistTools, args: CheckInsurance) -> InsuranceAnswer:
    wanted = " ".join(args.name.casefold().split())
    for plans, accepted in ((tools.tenant.insurance_accepted, True), (tools.tenant.insurance_not_accepted, False)):
        for plan in plans:
            if plan.casefold() in wanted or wanted in plan.casefold():
                return InsuranceAnswer(plan=plan, accepted=accepted)
    return InsuranceAnswer(plan=args.name, accepted=None, accepted_plans=list(tools.tenant.insurance_accepted))
