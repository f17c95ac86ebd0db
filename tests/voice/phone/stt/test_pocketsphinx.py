"""Offline recognition, in the event loop and in worker processes, on telephone-quality synthetic speech."""

import asyncio

from voice.phone.audio import resample, ulaw_to_pcm
from voice.phone.stt.pocketsphinx import PocketsphinxSTT
from voice.phone.stt.pocketsphinx_workers import PocketsphinxWorkerSTT
from voice.phone.tts.espeak import synthesize_ulaw
from voice.conversation.vocabulary import vocabulary_for

VOCABULARY = vocabulary_for(
    practice="Bright Smile Dental",
    types=[("Cleaning", ["hygiene", "teeth cleaning"]), ("Exam", ["checkup"])],
    providers=["Dr. Maya Patel", "Lisa Chen"],
    insurers=["Cigna", "Medicaid"],
)


def speech(text: str) -> bytes:
    pcm, _ = resample(ulaw_to_pcm(synthesize_ulaw(text)), 8000, 16000)
    return pcm


async def recognise(stt, pcm: bytes, expectation: str) -> tuple[str, list[str]]:
    stt.listen_for(expectation)
    await stt.begin()
    partials = []
    for i in range(0, len(pcm), 640):  # 20 ms at a time, as the phone delivers it
        partial = await stt.feed(pcm[i : i + 640])
        if partial:
            partials.append(partial)
    return await stt.finish(), partials


def test_narrow_answers_are_recognised_the_same_in_the_loop_and_in_workers():
    # One recording for both: espeak-ng's output varies slightly from one synthesis to the next.
    yes_audio, birthday_audio = speech("Yes please."), speech("April twelfth, nineteen eighty.")

    async def scenario(provider):
        stt = provider(vocabulary=VOCABULARY)
        try:
            yes = await recognise(stt, yes_audio, "yes_no")
            birthday = await recognise(stt, birthday_audio, "dob")
        finally:
            await stt.close()
        return yes, birthday

    in_loop = asyncio.run(scenario(PocketsphinxSTT))
    in_workers = asyncio.run(scenario(PocketsphinxWorkerSTT))
    assert in_loop == in_workers  # the same decoder, wherever it runs
    (yes, yes_partials), (birthday, _) = in_workers
    assert yes == "yes please" and yes_partials  # recognised while the caller was still talking
    assert "twelfth" in birthday
