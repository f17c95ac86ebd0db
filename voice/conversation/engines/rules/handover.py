"""Handing the caller over: to the front desk, or as a message someone will call back about."""

from voice.conversation.engines.rules.state import Expecting, Intent
from voice.conversation.tools.results import MessageTaken, Transfer
from voice.conversation.understanding import Understanding
from voice.frames import TransferCall


class HandoverFlow:
    async def transfer(self, reason: str) -> None:
        result = await self.tools.acall("transfer_to_human", reason=reason)
        if isinstance(result, Transfer):
            self.say("Of course. I'm transferring you to our front desk now, please hold.")
            self.d.done.append("Transferred to the front desk")
            self.end_with(TransferCall(result.transfer_to))
        else:
            self.say("I'm sorry, there's no one available to take your call right now.")
            self.offer_message()

    async def hand_over(self) -> None:
        """Understood too little for too long: the front desk, or when it can't take the call, a message."""
        d = self.d
        d.hand_over = False
        result = await self.tools.acall("transfer_to_human", reason="repeated misunderstanding")
        if isinstance(result, Transfer):
            self.say("Let me put you through to our front desk, please hold.")
            d.done.append("Transferred to the front desk")
            self.end_with(TransferCall(result.transfer_to))
            return
        d.intent, d.hand_over_message = Intent.MESSAGE, True
        self.say("I'll take a message, and someone from our team will call you back.")
        self.ask("Could I have your name, please?", Expecting.MESSAGE_NAME)

    def offer_message(self) -> None:
        self.ask("Would you like to leave a message so someone can call you back?", Expecting.MESSAGE_OFFER)

    async def start_message(self) -> None:
        d = self.d
        d.intent = Intent.MESSAGE
        if d.first_name:
            self.ask("Of course. What would you like the message to say?", Expecting.MESSAGE_TEXT)
        else:
            self.ask("Of course. Could I have your name, please?", Expecting.MESSAGE_NAME)

    async def take_message(self, text: str) -> None:
        d = self.d
        name = " ".join(p for p in (d.first_name, d.last_name) if p)
        lowered = text.lower()
        for_whom = next(
            (self.provider_names[c.key] for c in self.provider_words
             if any(f"for {w.lower()}" in lowered for w in [c.name, *c.words])),
            "",
        )
        result = await self.tools.acall("take_message", about=text, caller_name=name, for_whom=for_whom)
        if isinstance(result, MessageTaken):
            self.say("Thank you. I've passed your message on, and someone will call you back at the number you're "
                     "calling from.")
            d.done.append("Took a message")
        else:
            self.say(result.error)
        if d.hand_over_message:
            self.goodbye()  # the call got here by not being understood: do not start over
        else:
            self.anything_else()

    async def on_transfer_offer(self, u: Understanding) -> bool:
        if u.yes_no is True:
            await self.transfer("caller accepted a transfer")
            return True
        if u.yes_no is False:
            self.anything_else()
            return True
        return False

    async def on_repair_choice(self, u: Understanding) -> bool:
        lowered = u.text.lower()
        if "message" in u.intents or "message" in lowered:
            await self.start_message()
            return True
        if u.yes_no is None and "transfer" not in lowered and "person" not in lowered:
            return False
        if u.yes_no is False and "transfer" not in lowered:
            self.goodbye()
        else:
            await self.transfer("repeated misunderstanding")
        return True

    async def on_message_offer(self, u: Understanding) -> bool:
        if u.yes_no is True or "message" in u.intents:
            await self.start_message()
            return True
        if u.yes_no is False:
            self.anything_else()
            return True
        return False

    async def on_message_name(self, u: Understanding) -> bool:
        d = self.d
        if u.name:
            d.first_name, d.last_name = u.name
        else:
            d.first_name, d.last_name = u.text.strip(" .!?,"), ""
        self.ask("What would you like the message to say?", Expecting.MESSAGE_TEXT)
        return True

    async def on_message_text(self, u: Understanding) -> bool:
        await self.take_message(u.text)
        return True
