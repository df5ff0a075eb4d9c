"""users.user_deactivated makes every check deny, users.user_reactivated lets them answer again
(idempotently); the registry reaches the database."""

import pytest

from permissions.core import selectors, services
from permissions.core.registry import CONTRACT_PERMISSIONS
from permissions.handlers import CONSUMER
from permissions.interface import declare_permissions, declared_permissions, undeclare_permissions
from permissions.models import Assignment, AuditEntry, DeactivatedUser, Permission, Role
from project.events.consumers import process
from project.kernel.events import Envelope
from tests.support.rbac import new_user
from users.interface import USER_DEACTIVATED, USER_REACTIVATED

from .conftest import grant, role

pytestmark = pytest.mark.django_db


def test_a_deactivated_user_is_denied_everything_and_keeps_their_assignments(codes):
    user = new_user()
    grant(role("reader", ["docs.page.read"]), user_id=user)
    assert selectors.check(user_id=user, permission="docs.page.read")
    envelope = Envelope(type=USER_DEACTIVATED, producer="users", payload={"user_id": str(user)})
    assert process(CONSUMER, envelope) is True
    assert process(CONSUMER, envelope) is False  # a redelivery changes nothing
    assert not selectors.check(user_id=user, permission="docs.page.read")
    assert Assignment.objects.filter(user_id=user).exists()
    assert DeactivatedUser.objects.filter(user_id=user).count() == 1
    assert AuditEntry.objects.filter(action="user.deactivated", target_id=str(user)).count() == 1


def test_a_reactivated_user_is_checked_from_their_assignments_again(codes):
    user = new_user()
    grant(role("reader", ["docs.page.read"]), user_id=user)
    process(CONSUMER, Envelope(type=USER_DEACTIVATED, producer="users", payload={"user_id": str(user)}))
    assert not selectors.check(user_id=user, permission="docs.page.read")
    envelope = Envelope(type=USER_REACTIVATED, producer="users", payload={"user_id": str(user)})
    assert process(CONSUMER, envelope) is True
    assert process(CONSUMER, envelope) is False  # a redelivery changes nothing
    assert selectors.check(user_id=user, permission="docs.page.read")
    assert not DeactivatedUser.objects.filter(user_id=user).exists()
    assert AuditEntry.objects.filter(action="user.reactivated", target_id=str(user)).count() == 1


def test_every_contract_permission_is_in_the_database_after_migrate():
    codes = set(Permission.objects.values_list("code", flat=True))
    for app, declared in CONTRACT_PERMISSIONS.items():
        assert set(declared) <= codes
        assert all(code.startswith(f"{app}.") for code in declared)


def test_the_admin_role_exists_protected_and_holds_everything():
    admin = Role.objects.get(name="admin")
    assert admin.is_system and admin.grants_all


def test_a_sync_adds_new_codes_and_drops_undeclared_ones_from_roles(codes):
    reader = role("reader", ["docs.page.read"])
    declare_permissions("reports", {"reports.report.read": "Read reports."})
    try:
        added, removed = services.permission_registry_sync()
    finally:
        undeclare_permissions(["reports.report.read"])
    assert added == ["reports.report.read"]
    assert set(codes) <= set(removed)  # the fixture's codes were never declared
    assert Permission.objects.get(code="reports.report.read").description == "Read reports."
    assert list(reader.permissions.all()) == []
    assert services.permission_registry_sync() == ([], ["reports.report.read"])


@pytest.mark.parametrize("code", ["reports.report", "Reports.report.read", "other.report.read", "reports..read"])
def test_a_malformed_or_foreign_code_cannot_be_declared(code):
    with pytest.raises(ValueError):
        declare_permissions("reports", {code: "x"})
    assert code not in declared_permissions()
