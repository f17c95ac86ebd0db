from django.apps import AppConfig


class VoiceConfig(AppConfig):
    name = "voice"
    verbose_name = "Voice"

    def ready(self):
        import voice.checks  # noqa: F401  (registers the provider checks)
