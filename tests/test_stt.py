"""Offline recognition, in the event loop and in worker processes, on telephone-quality synthetic speech."""

import asyncio

from voice.audio import resample, ulaw_to_pcm
from voice.stt.pocketsphinx import PocketsphinxSTT
from voice.stt.pocketsphinx_workers import PocketsphinxWorkerSTT
from voice.tts.espeak import synthesize_ulaw
from voice.vocabulary import vocabulary_for

VOCABULARY = vocabulary_for(
    practice="Bright Smile Dental",
    types=[("Cleaning", ["hygiene", "teeth cleaning"]), ("Exam", ["checkup"])],
    providers=["Dr. Maya Patel", "Lisa Chen"],
    insurers=["Cigna", "Medicaid"],
)


async def recognise(stt, text: str, expectation: str) -> tuple[str, list[str]]:
    pcm, _ = resample(ulaw_to_pcm(synthesize_ulaw(text)), 8000, 16000)
    stt.listen_for(expectation)
    await stt.begin()
    partials = []
    for i in range(0, len(pcm), 640):  # 20 ms at a time, as the phone delivers it
        partial = await stt.feed(pcm[i : i + 640])
        if partial:
            partials.append(partial)
    return await stt.finish(), partials


def test_narrow_answers_are_recognised_the_same_in_the_loop_and_in_workers():
    async def scenario(provider):
        stt = provider(vocabulary=VOCABULARY)
        try:
            yes = await recognise(stt, "Yes please.", "yes_no")
            birthday = await recognise(stt, "April twelfth, nineteen eighty.", "dob")
        finally:
            await stt.close()
        return yes, birthday

    in_loop = asyncio.run(scenario(PocketsphinxSTT))
    in_workers = asyncio.run(scenario(PocketsphinxWorkerSTT))
    # The same decoder wherever it runs (partials may differ: espeak-ng's output varies slightly).
    assert [text for text, _ in in_loop] == [text for text, _ in in_workers]
    (yes, yes_partials), (birthday, _) = in_workers
    assert yes == "yes please" and yes_partials  # recognised while the caller was still talking
    assert birthday.startswith("april twelfth")
