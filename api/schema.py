"""The OpenAPI schema says, for every operation, the scope it needs and how to authenticate."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class ScopedAutoSchema(AutoSchema):
    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        scope = getattr(self.view, "required_scopes", {}).get(self.method)
        if operation is not None and scope:
            operation["description"] = f"{operation.get('description', '')}\n\nScope: `{scope}`.".strip()
        return operation


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "rk_<prefix>_<secret>_<checksum>",
                "description": "A practice's API key, made in the admin (shown once)."}


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.StaffJWTAuthentication"
    name = "staffToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "A staff access token from /api/v1/token/; X-Practice names the practice if several."}
