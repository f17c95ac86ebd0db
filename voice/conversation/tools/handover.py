"""Handing the call over: to a person, as a message, or ending it."""

from pydantic import Field

from calls.services import message_create
from tenants.phones import InvalidPhoneNumber, normalize_phone
from tenants.selectors import practice_facts
from voice.conversation.tools.context import ReceptionistTools, ToolError
from voice.conversation.tools.identity import NoArguments
from voice.conversation.tools.registry import Arguments, tool
from voice.conversation.tools.results import CallEnded, MessageTaken, Transfer


class TransferToHuman(Arguments):
    reason: str = ""


class TakeMessage(Arguments):
    about: str = Field(min_length=1)
    caller_name: str = ""
    callback_number: str = Field("", description="Only if different from the caller ID.")
    for_whom: str = ""


@tool("transfer_to_human", "Transfer the call to the front desk: the caller asked for a person, or an emergency needs one.",
      TransferToHuman)
def transfer_to_human(tools: ReceptionistTools, args: TransferToHuman) -> Transfer:
    number = tools.tenant.transfer_number
    if not number:
        raise ToolError("There is no one to transfer to right now; I can take a message instead.")
    now = tools.local_now()
    if not practice_facts(tenant=tools.tenant, today=now.date()).open_at(now):
        raise ToolError("Our front desk is closed right now; I can take a message and someone will call you back.")
    tools.session.transferred_to = number
    tools.session.actions.append("transferred")
    return Transfer(transfer_to=number)


@tool("take_message", "Leave a message for the practice; the callback number defaults to the caller ID.", TakeMessage)
def take_message(tools: ReceptionistTools, args: TakeMessage) -> MessageTaken:
    number = args.callback_number or tools.call.caller_number
    try:
        number = normalize_phone(number) if number else ""
    except InvalidPhoneNumber:
        raise ToolError("That callback number doesn't look right.") from None
    try:
        message = message_create(tenant=tools.tenant, call=tools.call, about=args.about, caller_name=args.caller_name,
                                 callback_number=number, for_whom=args.for_whom, actor=tools.actor)
    except ValueError as error:
        raise ToolError(str(error)) from None
    tools.session.message = message.about
    tools.session.actions.append("message_taken")
    return MessageTaken()


@tool("end_call", "Hang up, after saying goodbye, once the caller has nothing else.", NoArguments)
def end_call(tools: ReceptionistTools, args: NoArguments) -> CallEnded:
    tools.session.ended = True
    return CallEnded()
