from django.apps import AppConfig


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "Partner API"

    def ready(self):
        from api import schema  # noqa: F401  (registers the authentication schemes with drf-spectacular)
