from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Practices"

    def ready(self):
        from tenants.logging import install_phi_record_factory

        install_phi_record_factory()
        import tenants.signals  # noqa: F401  (connects the sign-in audit receivers)
