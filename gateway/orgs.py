"""An org's `require_mfa` policy, enforced by the app services (docs/orgs.md, "Policy: require_mfa").

The org routes (users/api/orgs.py) and the RBAC management routes whose scope is an org's
(permissions/api/views.py) ask here before acting. The policy is the org's (users service), the
second factor the person's (auth service): the app service, which calls both through their
interfaces, is where the two meet. Neither core service calls the other for it, and the permission
check engine does not look at it (docs/orgs.md says why).
"""

from __future__ import annotations

import re
import uuid

from auth.interface import auth_service
from permissions.interface import InvalidScope, normalise_scope
from users.interface.orgs import (
    TOTP_CONFIRM_PATH,
    TOTP_ENROLL_PATH,
    Organization,
    OrgMfaRequired,
    OrgNotFound,
    org_service,
)

# The first segment of a scope that is an org's, or below one (`org:<id>/project:42`).
ORG_SCOPE = re.compile(r"org:([0-9a-fA-F-]{36})(?:/.*)?")


def _refuse(org: Organization, message: str | None = None) -> OrgMfaRequired:
    return OrgMfaRequired(
        message,
        details={"org_id": str(org.id), "enroll": TOTP_ENROLL_PATH, "confirm": TOTP_CONFIRM_PATH},
    )


def require_org_mfa(*, user_id: uuid.UUID, org: Organization) -> None:
    """OrgMfaRequired when the org requires a second factor and the user has none. Costs nothing
    for an org without the policy (no call to the auth service)."""
    if org.require_mfa and not auth_service.mfa_enabled(user_id=user_id):
        raise _refuse(org)


def enter_org(*, user_id: uuid.UUID, org_id: uuid.UUID, exempt: bool = False) -> Organization:
    """The org for a caller of one of its routes: OrgNotFound when they may not see it (so an
    outsider learns nothing, not even the policy), then OrgMfaRequired unless the route is one a
    member needs to comply or to leave (`exempt`)."""
    org = org_service.get_org(actor_id=user_id, org_id=org_id)
    if not exempt:
        require_org_mfa(user_id=user_id, org=org)
    return org


def may_require_mfa(*, user_id: uuid.UUID, org: Organization) -> None:
    """Turning `require_mfa` on needs a second factor of one's own, else the caller would lock
    themselves out of the org's administration."""
    if not auth_service.mfa_enabled(user_id=user_id):
        raise _refuse(
            org,
            "Turn on two-factor authentication for yourself before requiring it of this organization: "
            f"POST {TOTP_ENROLL_PATH} with your password, then POST {TOTP_CONFIRM_PATH} with a code.",
        )


def require_scope_mfa(*, user_id: uuid.UUID, scope: str | None) -> None:
    """For an RBAC write in `scope`: when the scope is an org's (or below one) and that org requires
    a second factor, the caller must have one. A scope of an org that does not exist is left to
    the RBAC rules alone."""
    try:
        scope = normalise_scope(scope)
    except InvalidScope:
        return  # the permissions service refuses it
    match = ORG_SCOPE.fullmatch(scope or "")
    if match is None:
        return
    try:
        org = org_service.get_org(actor_id=None, org_id=uuid.UUID(match.group(1)))
    except (OrgNotFound, ValueError):
        return
    require_org_mfa(user_id=user_id, org=org)
