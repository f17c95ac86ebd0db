"""One call's speech loop with fakes all around: what reaches the phone, and what the conversation hears and records."""

import asyncio
from collections.abc import Callable

import pytest

from tests.voice.phone.fakes import LOUD, QUIET, LoudnessVAD, RecordingTelephony, ScriptedConversation, ScriptedSTT, ToneTTS
from voice.frames import AgentSentence, Audio, CallerText, CallStarted, DtmfDigits, EndCall, Event, Interrupt, Mark, Output
from voice.frames import SilenceTimeout, TransferCall
from voice.phone import metrics
from voice.phone.pipeline import APOLOGY, PhoneCall
from voice.phone.tts.base import FallbackTTS

HELLO = AgentSentence("Thank you for calling.")
HELP = AgentSentence("How can I help?")
SURE = AgentSentence("Sure.")
# What an agent turn that answers no words of the caller's (a greeting, a reprompt) records: who spoke it.
UNTIMED = {"providers": {"engine": "scripted", "tts": "tone"}}


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


class Line:
    """A PhoneCall with fakes all around it."""

    def __init__(self, script: Callable[[Event], list[Output]], *transcripts: str, idle_seconds: float = 60.0,
                 expecting: str = "free", partial: str | None = None):
        self.sent: list = []
        self.conversation = ScriptedConversation(script, expecting=expecting)
        self.stt = ScriptedSTT(*transcripts, partial=partial)
        self.telephony = RecordingTelephony()
        self.call = PhoneCall(conversation=self.conversation, stt=self.stt, tts=ToneTTS(), vad=LoudnessVAD(),
                              send=self._send, telephony=self.telephony, idle_seconds=idle_seconds,
                              answer_ms=250, mid_sentence_ms=1000)

    async def _send(self, frame) -> None:
        self.sent.append(frame)

    def marks(self) -> list[str]:
        return [frame.name for frame in self.sent if isinstance(frame, Mark)]

    async def start(self) -> None:
        """The call starts, and the conversation has given all its greeting (heard or not)."""
        await self.call.start()
        await until(lambda: self.stt.expectations)

    async def hear(self, sentences: int) -> None:
        """Once that many sentences have been sent, Twilio echoes every mark: the caller heard them all."""
        await until(lambda: len(self.marks()) >= sentences)
        for name in self.marks():
            await self.call.mark(name)

    async def caller_says(self, frames: int = 30, *, then_quiet: int = 30) -> None:
        for frame in [LOUD] * frames + [QUIET] * then_quiet:  # 600 ms of silence: past the usual end of a turn
            await self.call.audio(frame)

    def turn_ended(self) -> bool:
        return "finish" in self.stt.steps


@pytest.fixture
async def line():
    lines = []

    def make(*args, **kwargs) -> Line:
        lines.append(Line(*args, **kwargs))
        return lines[-1]

    yield make
    for each in lines:
        await each.call.stop()


def replies(**by_event: list[Output]) -> Callable[[Event], list[Output]]:
    """A conversation script: the outputs for each kind of event, by its type's name; nothing for the others."""
    return lambda event: by_event.get(type(event).__name__, [])


async def test_the_greeting_is_spoken_sentence_by_sentence_and_recorded_once_heard(line):
    phone = line(replies(CallStarted=[HELLO, HELP]))
    await phone.call.start()
    await until(lambda: len(phone.marks()) == 2)
    assert [type(frame) for frame in phone.sent] == [Audio, Mark, Audio, Mark]
    assert phone.conversation.agent_turns == []  # not yet heard
    await phone.hear(2)
    assert phone.conversation.agent_turns == [("Thank you for calling. How can I help?", UNTIMED, False)]
    assert phone.stt.expectations == ["free"]


async def test_the_callers_turn_reaches_the_conversation_and_its_answer_has_a_latency_record(line):
    phone = line(replies(CallerText=[SURE]), " what time do you open ")
    await phone.start()
    await phone.caller_says()
    await phone.hear(1)
    assert phone.conversation.events == [CallStarted(), CallerText("what time do you open")]
    assert phone.stt.steps == ["begin", "finish"]
    text, latency, interrupted = phone.conversation.agent_turns[0]
    assert (text, interrupted) == ("Sure.", False)
    assert set(latency) == {"end_of_turn_wait_ms", "turn_ended_by", "final_transcript_ms", "engine_first_sentence_ms",
                            "first_audio_ms", "first_frame_sent_ms", "providers"}
    assert latency["end_of_turn_wait_ms"] == 500 and None not in latency.values()
    assert latency["providers"] == {"stt": "scripted", "engine": "scripted", "tts": "tone"}
    assert latency["turn_ended_by"] == "silence"


async def test_a_whole_answer_ends_the_turn_after_a_shorter_silence(line):
    phone = line(replies(CallerText=[SURE]), "yes", expecting="yes_no", partial="yes")
    await phone.start()
    await phone.caller_says(then_quiet=13)  # 260 ms
    assert phone.turn_ended()
    await phone.hear(1)
    assert phone.conversation.agent_turns[0][1]["end_of_turn_wait_ms"] == 260


async def test_the_usual_silence_ends_a_turn_whose_words_answer_nothing_yet(line):
    phone = line(replies(CallerText=[SURE]), "I'd like to book a cleaning", partial="I'd like to book a cleaning")
    await phone.start()
    await phone.caller_says(then_quiet=20)
    assert not phone.turn_ended()
    await phone.caller_says(0, then_quiet=6)
    assert phone.turn_ended()


async def test_a_caller_who_stops_mid_sentence_is_waited_for_and_heard_as_one_turn(line):
    phone = line(replies(CallerText=[SURE]), "on tuesday um in the afternoon", partial="on tuesday um")
    await phone.start()
    await phone.caller_says(then_quiet=40)  # an 800 ms "um" pause
    assert not phone.turn_ended()
    phone.stt.partial = "on tuesday um in the afternoon"
    await phone.caller_says(then_quiet=30)
    await phone.hear(1)
    assert phone.stt.steps == ["begin", "finish"]
    assert phone.conversation.events[-1] == CallerText("on tuesday um in the afternoon")


async def test_the_recognisers_endpointing_ends_a_turn_before_the_silence_does_and_says_so(line):
    phone = line(replies(CallerText=[SURE]), "what time do you open", partial="what time do you open")
    await phone.start()
    await phone.caller_says(then_quiet=5)
    phone.stt.ended_by = "speech_final"
    await phone.caller_says(0, then_quiet=1)
    assert phone.turn_ended()
    await phone.hear(1)
    latency = phone.conversation.agent_turns[0][1]
    assert (latency["turn_ended_by"], latency["end_of_turn_wait_ms"]) == ("speech_final", 120)


async def test_the_recognisers_endpointing_does_not_end_half_a_sentence(line):
    phone = line(replies(CallerText=[SURE]), "on tuesday and", partial="on tuesday and")
    await phone.start()
    await phone.caller_says(then_quiet=5)
    phone.stt.ended_by = "speech_final"
    await phone.caller_says(0, then_quiet=30)
    assert not phone.turn_ended()


async def test_what_still_sounds_like_speech_after_the_recognisers_endpointing_starts_no_new_turn(line):
    phone = line(replies(CallerText=[SURE]), "what time do you open")
    await phone.start()
    await phone.caller_says(then_quiet=0)
    phone.stt.ended_by = "speech_final"
    await phone.caller_says(3, then_quiet=30)  # a breath the recogniser took for silence
    await phone.hear(1)
    assert phone.stt.steps == ["begin", "finish"]


async def test_the_caller_speaking_over_the_agent_clears_and_only_what_was_heard_is_kept(line):
    phone = line(replies(CallStarted=[HELLO, HELP, AgentSentence("We are open today.")], CallerText=[SURE]), "hello")
    await phone.call.start()
    await until(lambda: len(phone.marks()) == 3)
    await phone.call.mark(phone.marks()[0])  # the caller heard the first sentence...
    await phone.caller_says()  # ...and talked over the second
    assert Interrupt() in phone.sent
    assert phone.conversation.agent_turns == [("Thank you for calling.", UNTIMED, True)]
    assert phone.conversation.unheard == ["How can I help? We are open today."]
    await phone.hear(4)  # the marks cleared away come back too: they were not heard
    assert [turn[0] for turn in phone.conversation.agent_turns] == ["Thank you for calling.", "Sure."]


async def test_the_caller_speaking_while_the_engine_thinks_cancels_the_reply(line):
    phone = line(replies(CallerText=[SURE]), "book a cleaning", "actually a checkup")
    await phone.start()
    phone.conversation.hold.clear()
    await phone.caller_says()
    await until(lambda: len(phone.conversation.events) == 2)
    await phone.caller_says()  # before any answer to the first
    await until(lambda: len(phone.conversation.events) == 3)
    phone.conversation.hold.set()
    await phone.hear(1)
    await asyncio.sleep(0.05)
    assert phone.marks() == ["reply-1"] and Interrupt() not in phone.sent  # one answer, nothing to clear
    assert phone.conversation.events[1:] == [CallerText("book a cleaning"), CallerText("actually a checkup")]


async def test_the_keypad_interrupts_and_reaches_the_conversation(line):
    phone = line(replies(CallStarted=[HELLO, HELP]))
    await phone.call.start()
    await until(lambda: len(phone.marks()) == 2)
    await phone.call.dtmf("0")
    assert phone.sent[-1] == Interrupt()
    assert phone.conversation.agent_turns == [("", UNTIMED, True)]
    assert phone.conversation.unheard == ["Thank you for calling. How can I help?"]
    await until(lambda: len(phone.conversation.events) == 2)
    assert phone.conversation.events[1] == DtmfDigits("0")


@pytest.mark.parametrize("action,done", [(EndCall(), "hang up"), (TransferCall("+15551119999"), "transfer to +15551119999")])
async def test_hanging_up_or_transferring_waits_until_the_last_words_are_heard(line, action, done):
    phone = line(replies(CallStarted=[AgentSentence("Goodbye!"), action]))
    await phone.call.start()
    await until(lambda: len(phone.marks()) == 1)
    await asyncio.sleep(0.05)
    assert phone.telephony.actions == []
    await phone.hear(1)
    assert phone.telephony.actions == [done]


async def test_silence_reprompts_count_up_until_the_caller_speaks(line):
    phone = line(replies(SilenceTimeout=[AgentSentence("Are you still there?")], CallerText=[SURE]), "yes",
                 idle_seconds=0.05)
    await phone.call.start()
    await phone.hear(1)  # after the first silence
    await phone.hear(2)
    await phone.caller_says()
    await phone.hear(3)
    await phone.hear(4)
    silences = [event for event in phone.conversation.events if isinstance(event, SilenceTimeout)]
    assert silences == [SilenceTimeout(1), SilenceTimeout(2), SilenceTimeout(1)]


async def test_a_turn_with_no_words_waits_for_the_caller_again(line):
    phone = line(replies(SilenceTimeout=[AgentSentence("Are you still there?")]), "", idle_seconds=0.05)
    await phone.start()
    await phone.caller_says()
    await phone.hear(1)
    assert phone.conversation.events == [CallStarted(), SilenceTimeout(1)]


async def test_an_engine_failure_apologises_and_ends_the_call(line):
    def broken(event: Event) -> list[Output]:
        raise RuntimeError("the engine broke")

    errors = metrics.PROVIDER_ERRORS.labels("engine")
    before = errors._value.get()
    phone = line(broken)
    await phone.call.start()
    await phone.hear(1)
    assert phone.conversation.agent_turns == [(APOLOGY.text, UNTIMED, False)]
    assert phone.telephony.actions == ["hang up"] and errors._value.get() == before + 1


async def test_a_sentence_that_fails_to_synthesize_is_cut_short_and_the_reply_goes_on(line):
    phone = line(replies(CallStarted=[AgentSentence("A garbled hello."), HELP]))
    await phone.call.start()
    await phone.hear(2)
    assert [type(frame) for frame in phone.sent] == [Mark, Audio, Mark]  # the failed sentence's audio was not whole yet
    assert phone.conversation.agent_turns == [("A garbled hello. How can I help?", UNTIMED, False)]


async def test_a_turn_spoken_after_the_voice_fell_back_names_the_fallback_and_says_it_is_one(line):
    class Backup(ToneTTS):
        name = "backup"

    phone = line(replies(CallStarted=[AgentSentence("A garbled hello.")], CallerText=[SURE]), "hello")
    phone.call.speaker.tts = FallbackTTS(ToneTTS(), Backup())
    await phone.start()
    await phone.hear(1)
    await phone.caller_says()
    await phone.hear(2)
    greeting, answer = [latency for _, latency, _ in phone.conversation.agent_turns]
    assert greeting == {"providers": {"engine": "scripted", "tts": "backup"}, "fallbacks": ["tts"]}
    assert answer["providers"] == {"stt": "scripted", "engine": "scripted", "tts": "backup"}
    assert answer["fallbacks"] == ["tts"]


async def test_stopping_finishes_the_call_once_and_records_what_was_said_but_not_heard(line):
    before = (PhoneCall.in_progress, metrics.ACTIVE_CALLS._value.get())
    phone = line(replies(CallStarted=[HELLO]))
    await phone.call.start()
    assert (PhoneCall.in_progress, metrics.ACTIVE_CALLS._value.get()) == (before[0] + 1, before[1] + 1)
    await until(lambda: len(phone.marks()) == 1)
    await phone.call.stop()
    await phone.call.stop()
    assert phone.conversation.agent_turns == [("", UNTIMED, False)] and phone.conversation.finished
    assert phone.conversation.unheard == ["Thank you for calling."]
    assert phone.stt.steps == ["close"]
    assert (PhoneCall.in_progress, metrics.ACTIVE_CALLS._value.get()) == before


async def test_a_call_whose_record_cannot_be_finished_is_still_given_back(line):
    async def finish_fails() -> None:
        raise RuntimeError("the database went away")

    before = (PhoneCall.in_progress, metrics.ACTIVE_CALLS._value.get())
    phone = line(replies())
    phone.conversation.finish = finish_fails
    await phone.call.start()
    with pytest.raises(RuntimeError):
        await phone.call.stop()
    assert (PhoneCall.in_progress, metrics.ACTIVE_CALLS._value.get()) == before
