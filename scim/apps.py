from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "scim"
    verbose_name = "SCIM provisioning"

    def ready(self):
        from permissions.interface import declare_permissions

        # What the admin's SCIM tokens page asks (permissions.backends maps it).
        declare_permissions(
            "scim",
            {
                "scim.token.manage": "List and revoke SCIM provisioning tokens in the admin (making one needs the admin role)."
            },
        )
