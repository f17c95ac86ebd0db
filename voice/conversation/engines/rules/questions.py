"""Questions about the practice: hours, where it is, insurance, what new patients should know."""

from tenants.spoken import say_list
from voice.conversation.tools.results import PracticeInfo
from voice.conversation.understanding import Understanding

INFO_INTENTS = {"hours", "location", "insurance", "new_patient_info"}


class QuestionFlow:
    async def answer_questions(self, u: Understanding, skip: set[str] = frozenset()) -> bool:
        """Answer every practice question the caller asked; False when there was none."""
        intents = (u.intents & INFO_INTENTS) - set(skip)
        if u.insurance:
            intents.add("insurance")
        if not intents:
            return False
        info: PracticeInfo = await self.tools.acall("practice_info", date=u.date)
        if "hours" in intents:
            self.say(self.hours_sentence(info, u))
        if "location" in intents:
            self.say(f"We're at {info.address}.", f"{info.parking}." if info.parking else "")
        if "insurance" in intents:
            await self.insurance(u, info)
        if "new_patient_info" in intents and info.new_patient_note and not u.intents & {"hours", "insurance", "location"}:
            self.say(info.new_patient_note)
        self.d.done.append("Answered a question")
        return True

    def hours_sentence(self, info: PracticeInfo, u: Understanding) -> str:
        if info.day is not None:
            return info.day.sentence
        if u.weekday_asked is not None:  # "are you open on Saturdays?"
            return info.weekdays[u.weekday_asked]
        today = f"Today we're open {info.today.hours}." if info.today.open else "We're closed today."
        return f"{today} Our hours are: {info.week}."

    async def insurance(self, u: Understanding, info: PracticeInfo) -> None:
        accepted = say_list(info.insurance_accepted, "and")
        if not u.insurance:
            refused = say_list(info.insurance_not_accepted, "or")
            self.say(f"We accept {accepted}." + (f" We don't accept {refused}." if refused else ""))
            return
        answer = await self.tools.acall("check_insurance", name=u.insurance)
        if answer.accepted is True:
            self.say(f"Yes, we accept {answer.plan}.")
        elif answer.accepted is False:
            self.say(f"I'm sorry, we don't accept {answer.plan}.", f"We do accept {accepted}.")
        else:
            self.say(f"I don't see {u.insurance} on our list. We accept {accepted}.",
                     "Our front desk can check your specific plan for you.")
