"""Offline speech synthesis as telephone audio."""

from voice.phone.audio import SAMPLE_RATE, rms, ulaw_to_pcm
from voice.phone.tts.espeak import synthesize_ulaw


def test_espeak_speaks_telephone_audio():
    audio = synthesize_ulaw("Thank you for calling Bright Smile Dental.")
    assert 1.5 < len(audio) / SAMPLE_RATE < 5  # seconds
    assert rms(ulaw_to_pcm(audio)) > 500  # speech, not silence
