from django.apps import AppConfig


class AuthConfig(AppConfig):
    name = "auth"
    # `auth` is django.contrib.auth's label; ours must differ.
    label = "gatehouse_auth"
    verbose_name = "Authentication"
    default_auto_field = "django.db.models.BigAutoField"
