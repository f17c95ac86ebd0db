"""Deepgram live recognition through the official SDK, against a protocol-faithful fake websocket on 127.0.0.1."""

import asyncio

import pytest

from voice.conversation.vocabulary import vocabulary_for
from voice.phone.audio import FRAME_MS, frames, silence_ulaw
from voice.phone.stt.base import Transcript
from voice.phone.stt.deepgram import DeepgramClosed, DeepgramSTT
from voice.phone.tts.espeak import synthesize_ulaw

VOCABULARY = vocabulary_for(practice="Bright Smile Dental", types=[("Cleaning", ["hygiene"])],
                            providers=["Dr. Maya Patel"], insurers=["Cigna"])


@pytest.fixture
def fake(deepgram):
    return deepgram


async def turn(stt: DeepgramSTT, audio: bytes) -> tuple[Transcript, list[str]]:
    """One caller turn as the Recognizer plays it: begin, the phone's 20 ms frames as they come, finish."""
    await stt.begin()
    partials = []
    for frame in frames(audio):
        partial = await stt.feed(frame)
        if partial:
            partials.append(partial)
        await asyncio.sleep(FRAME_MS / 4000)  # faster than real time, but not all at once
    return await stt.finish(), partials


def test_turns_are_recognised_on_one_connection_with_the_phones_own_audio_and_the_practices_words(fake):
    fake.script("I'd like a cleaning.", "Yes, please.")

    async def call():
        stt = DeepgramSTT(vocabulary=VOCABULARY)
        first = await turn(stt, synthesize_ulaw("I'd like a cleaning."))
        second = await turn(stt, synthesize_ulaw("Yes, please."))
        await stt.close()
        return first, second

    (first, partials), (second, _) = asyncio.run(call())
    assert (first, second) == (Transcript("I'd like a cleaning."), Transcript("Yes, please."))
    assert partials and "I'd like a cleaning.".startswith(partials[0])  # interim results while the caller spoke
    [connection] = fake.connections
    assert connection.authorization == "Token dg-test-key"
    query = connection.query
    assert (query["encoding"], query["sample_rate"], query["interim_results"], query["model"]) == ("mulaw", "8000", "true", "nova-3")
    assert {"Bright Smile Dental", "Cleaning", "Dr. Maya Patel", "Cigna"} <= set(query["keyterm"])
    assert connection.controls == ["Finalize", "Finalize", "CloseStream"]


async def _until_ended(stt: DeepgramSTT, audio: bytes) -> str | None:
    """Feeds a turn frame by frame until Deepgram's endpointing ends it; how it ended."""
    await stt.begin()
    for frame in frames(audio):
        await stt.feed(frame)
        await asyncio.sleep(FRAME_MS / 1000)
        if stt.turn_ended():
            break
    return stt.turn_ended()


@pytest.mark.parametrize(("speech_final", "ended_by"), [(True, "speech_final"), (False, "utterance_end")])
def test_deepgrams_endpointing_ends_a_turn_whose_words_are_then_final_without_a_finalize(fake, speech_final, ended_by):
    fake.script("Yes, please.")
    fake.speech_final = speech_final

    async def call():
        stt = DeepgramSTT(vocabulary=VOCABULARY)
        ended = await _until_ended(stt, synthesize_ulaw("Yes, please.") + silence_ulaw(2000))
        heard = await stt.finish()
        await stt.close()
        return ended, heard

    assert asyncio.run(call()) == (ended_by, Transcript("Yes, please."))
    [connection] = fake.connections
    assert connection.query["endpointing"] == "500" and connection.query["utterance_end_ms"] == "1000"
    assert connection.controls == ["CloseStream"]


def test_a_silent_connection_is_kept_alive_while_the_agent_speaks(fake, monkeypatch):
    from voice.phone.stt import deepgram

    monkeypatch.setattr(deepgram, "KEEPALIVE_SECONDS", 0.5)
    fake.script("Hello.")

    async def call():
        stt = DeepgramSTT(vocabulary=VOCABULARY)
        await turn(stt, silence_ulaw(200))
        await asyncio.sleep(2.5)  # the agent talks; no caller audio
        await stt.close()

    asyncio.run(call())
    assert "KeepAlive" in fake.connections[0].controls


@pytest.mark.parametrize("fault", ["refused", "dropped", "late"])
def test_a_fault_raises_instead_of_hearing_nothing(fake, fault):
    fake.script("I'd like a cleaning.")
    if fault == "refused":
        fake.refuse = 401
    elif fault == "dropped":
        fake.drop_after = 4000
    else:
        fake.final_delay = 2

    async def call():
        stt = DeepgramSTT(vocabulary=VOCABULARY)
        try:
            await turn(stt, synthesize_ulaw("I'd like a cleaning."))
        finally:
            await stt.close()

    with pytest.raises(Exception) as raised:
        asyncio.run(call())
    if fault != "refused":
        assert raised.type is DeepgramClosed
