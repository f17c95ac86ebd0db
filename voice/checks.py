"""Start-up checks: a configured provider that cannot be loaded, or a cloud setting its API would refuse, stops
the server, not every call."""

from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

from tenants.voice import SPEED_MAX, SPEED_MIN
from voice.phone.tts.elevenlabs import TRANSPORTS

# setting -> (dotted path of the base class, the key that picks the cloud provider by default, if any)
PROVIDER_SETTINGS = {
    "STT_PROVIDER": ("voice.phone.stt.base.SpeechToText", "DEEPGRAM_API_KEY"),
    "STT_FALLBACK_PROVIDER": ("voice.phone.stt.base.SpeechToText", ""),
    "TTS_PROVIDER": ("voice.phone.tts.base.TextToSpeech", "ELEVENLABS_API_KEY"),
    "TTS_FALLBACK_PROVIDER": ("voice.phone.tts.base.TextToSpeech", ""),
    "VAD_PROVIDER": ("voice.phone.vad.base.VoiceActivityDetector", ""),
    "CONVERSATION_ENGINE": ("voice.conversation.engines.base.ConversationEngine", "ANTHROPIC_API_KEY"),
    "CONVERSATION_FALLBACK_ENGINE": ("voice.conversation.engines.base.ConversationEngine", "ANTHROPIC_API_KEY"),
}


@register("providers")
def providers_load(app_configs, **kwargs) -> list[Error]:
    errors = []
    for setting, (base_path, key) in PROVIDER_SETTINGS.items():
        path = getattr(settings, setting)
        if not path and setting in ("CONVERSATION_FALLBACK_ENGINE", "TTS_FALLBACK_PROVIDER", "STT_FALLBACK_PROVIDER"):
            continue  # no fallback is a choice
        hint = f"Set {setting} to a provider that exists" + (f", or unset {key} if it chose this one." if key else ".")
        try:
            provider = import_string(path)
        except ImportError as error:
            errors.append(Error(f"{setting} is {path!r}, which cannot be loaded: {error}", hint=hint, id="voice.E001"))
            continue
        base = import_string(base_path)
        if not (isinstance(provider, type) and issubclass(provider, base)):
            errors.append(Error(f"{setting} is {path!r}, which is not a {base.__name__}.", hint=hint, id="voice.E002"))
    return errors


@register("providers")
def elevenlabs_settings(app_configs, **kwargs) -> list[Error]:
    # ElevenLabs would refuse every sentence at a speed out of range, moving every call to the fallback voice;
    # an unknown transport would quietly be HTTP.
    errors = []
    if settings.ELEVENLABS_TRANSPORT not in TRANSPORTS:
        errors.append(Error(f"ELEVENLABS_TRANSPORT is {settings.ELEVENLABS_TRANSPORT!r}.",
                            hint=f"Set it to one of {', '.join(TRANSPORTS)}.", id="voice.E003"))
    speed = settings.ELEVENLABS_SPEED
    if speed is not None and not SPEED_MIN <= speed <= SPEED_MAX:
        errors.append(Error(f"ELEVENLABS_SPEED is {speed}, which ElevenLabs refuses.",
                            hint=f"Set it between {SPEED_MIN} (slower) and {SPEED_MAX} (faster), or unset it "
                                 "for the voice's own pace.", id="voice.E004"))
    return errors
