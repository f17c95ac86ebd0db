"""ElevenLabs streaming text-to-speech with the official SDK: a sentence in, Twilio's own audio format out.

`output_format=ulaw_8000` is what the phone plays, so the bytes go to the caller as they arrive with no
resampling. The voice, model and endpoint come from settings (ELEVENLABS_*); a failure raises, and the
fallback provider (TTS_FALLBACK_PROVIDER) speaks for the rest of the call.
"""

from collections.abc import AsyncIterator

from django.conf import settings
from elevenlabs import AsyncElevenLabs

from voice.phone.tts.base import TextToSpeech

OUTPUT_FORMAT = "ulaw_8000"  # 8 kHz mu-law, as Twilio's media stream carries it


class ElevenLabsTTS(TextToSpeech):
    def __init__(self, *, client: AsyncElevenLabs | None = None):
        self.client = client or AsyncElevenLabs(
            api_key=settings.ELEVENLABS_API_KEY,
            base_url=settings.ELEVENLABS_BASE_URL or "https://api.elevenlabs.io",
            timeout=settings.ELEVENLABS_TIMEOUT_SECONDS,
        )
        self.voice_id = settings.ELEVENLABS_VOICE_ID
        self.model_id = settings.ELEVENLABS_MODEL

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        stream = self.client.text_to_speech.stream(
            self.voice_id, text=text, model_id=self.model_id, output_format=OUTPUT_FORMAT,
            # No retries: a caller is waiting, and the fallback voice is faster than a second try.
            request_options={"max_retries": 0},
        )
        async for chunk in stream:
            if chunk:
                yield chunk
