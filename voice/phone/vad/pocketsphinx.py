"""Offline voice activity: pocketsphinx's detector (WebRTC's), in its loosest mode.

Only its Vad: pocketsphinx 5.1's Endpointer, which would also find the ends of
turns, never frees its C state (about 17 KB a call, for the life of the
server), so the turn detector does that part itself.
"""

import pocketsphinx

from voice.phone.audio import FRAME_MS, SAMPLE_RATE
from voice.phone.vad.base import VoiceActivityDetector


class PocketsphinxVAD(VoiceActivityDetector):
    def __init__(self):
        self._vad = pocketsphinx.Vad(pocketsphinx.Vad.LOOSE, SAMPLE_RATE, FRAME_MS / 1000)

    def is_speech(self, pcm8k: bytes) -> bool:
        return self._vad.is_speech(pcm8k)
