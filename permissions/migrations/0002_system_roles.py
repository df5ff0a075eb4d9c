import uuid

from django.db import migrations

# Fixed, so every installation's admin role has the same id.
ADMIN_ROLE_ID = uuid.UUID("5f1c1a8e-7d3b-5a0e-9c41-6a1d0e2b7f10")


def create_system_roles(apps, schema_editor):
    Role = apps.get_model("permissions", "Role")
    # The database being migrated, whatever the router says (split mode migrates each one).
    Role.objects.using(schema_editor.connection.alias).update_or_create(
        name="admin",
        defaults={
            "id": ADMIN_ROLE_ID,
            "description": "Holds every permission, present and future.",
            "is_system": True,
            "grants_all": True,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("permissions", "0001_initial")]

    operations = [migrations.RunPython(create_system_roles, migrations.RunPython.noop)]
