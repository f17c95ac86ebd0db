"""The rules engine's sentences, in one place: questions, offers, read-backs."""

import datetime as dt

from tenants.spoken import MONTH_NAMES, say_article, say_date, say_list, say_time
from voice.conversation.engines.rules.state import Expecting
from voice.conversation.tools.results import AppointmentView, SlotOffer

HOW_CAN_I_HELP = "How can I help you today?"
ANYTHING_ELSE = "Is there anything else I can help you with?"
WHICH_DAY = "What day would you like to come in?"
OTHER_DAY_AND_TIME = "No problem. What day and time would suit you better?"
NAME = "Could I have your first and last name, please?"
TRANSFER_OFFER = "Would you like me to connect you to our front desk?"
REPAIR_CHOICE = ("I'm sorry, I'm having trouble understanding. Would you like me to transfer you to our front desk, "
                 "or take a message?")
KEYPAD_DOB = "You can also enter it on your keypad as eight digits: month, day and year."
# The first try again at a question the caller did not answer: fewer words.
SHORTER = {
    Expecting.DOB: f"Your date of birth, please? {KEYPAD_DOB}",
    Expecting.NAME: "Your first and last name, please?",
    Expecting.DATE_TIME: "What day and time?",
    Expecting.TYPE: "What kind of visit?",
    Expecting.CONFIRM_BOOKING: "Shall I book it? Yes or no?",
    Expecting.CONFIRM_CANCEL: "Shall I cancel it? Yes or no?",
    Expecting.CONFIRM_RESCHEDULE: "Shall I move it? Yes or no?",
    Expecting.EMERGENCY_OFFER: "Shall I book it? Yes or no?",
    Expecting.TRANSFER_OFFER: "Shall I put you through? Yes or no?",
    Expecting.MESSAGE_OFFER: "Would you like to leave a message? Yes or no?",
    Expecting.HEARD_RIGHT: "Was that right? Yes or no?",
    Expecting.ANYTHING_ELSE: "Anything else?",
    Expecting.REQUEST: "How can I help?",
}
# The second try: the same question, with an example.
REPHRASED = {
    Expecting.DOB: f"Please tell me your date of birth, for example: March 3rd, 1985. {KEYPAD_DOB}",
    Expecting.NAME: "Please tell me your first and last name, for example: Jane Smith.",
    Expecting.DATE_TIME: "Please tell me a day and a time, for example: Tuesday at 10 AM.",
    Expecting.ALTERNATIVE: "Please tell me which time you'd like, for example: 10 AM.",
    Expecting.TYPE: "Please tell me the kind of visit: for example a cleaning, an exam or a filling.",
}
WHAT_I_CAN_DO = ("I can book, move or cancel an appointment, or answer questions about our hours, location or "
                 "insurance. What would you like to do?")


def birth_date(day: dt.date) -> str:
    """'April 12, 1980'."""
    return f"{MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


def day_and_time(day: dt.date | None, time: dt.time | None) -> str:
    """'Tuesday, December 8 at 3 PM', or either alone."""
    return " at ".join(part for part in (say_date(day) if day else "", say_time(time) if time else "") if part)


def kind_of(name: str) -> str:
    """'a cleaning', 'an exam'."""
    name = name.lower()
    return f"{say_article(name)} {name}"


def times_on_one_day(slots: list[SlotOffer]) -> str:
    """'9 AM, 9:30 AM or 10 AM on Monday, December 7', or each with its day when they differ."""
    if len({s.day for s in slots}) == 1:
        return f"{say_list([s.time for s in slots])} on {say_date(slots[0].day)}"
    return say_list([s.spoken for s in slots])


def offer_day(slots: list[SlotOffer]) -> str:
    return f"On {say_date(slots[0].day)} I have {say_list([s.time for s in slots])} available. Which time would you like?"


def offer_alternatives(reason: str, alternatives: list[SlotOffer]) -> str:
    return f"{reason} The nearest times I have available are {times_on_one_day(alternatives)}. Which time would you like?"


def first_in_window(slot: SlotOffer) -> str:
    return f"The first time I have is {slot.spoken} with {slot.provider}."


def confirm_booking(type_name: str, slot: SlotOffer) -> str:
    return f"Shall I book {kind_of(type_name)} with {slot.provider} on {slot.spoken}?"


def booked(appointment: AppointmentView) -> str:
    return f"You're all set: {kind_of(appointment.type)} with {appointment.provider} on {appointment.spoken}."


def appointment_phrase(appointment: AppointmentView, *, with_provider: bool = False) -> str:
    who = f" with {appointment.provider}" if with_provider else ""
    return f"{kind_of(appointment.type)}{who} on {appointment.spoken}"


def which_appointment(appointments: list[AppointmentView], verb: str) -> str:
    return f"I see {say_list([appointment_phrase(a) for a in appointments])}. Which one would you like to {verb}?"


def confirm_cancel(appointment: AppointmentView) -> str:
    return (f"I see your {appointment.type.lower()} with {appointment.provider} on {appointment.spoken}. "
            "Would you like me to cancel it?")


def confirm_reschedule(appointment: AppointmentView, slot: SlotOffer) -> str:
    return f"Shall I move your {appointment.type.lower()} from {appointment.spoken} to {slot.spoken} with {slot.provider}?"
