from django.urls import path

from . import orgs, views

# Mounted at "api/v1/": `/api/v1/users` has no trailing slash (docs/api.md).

urlpatterns = [
    # Account creation belongs to the users service; the API puts it under /auth/ (docs/auth.md).
    path("auth/register", views.RegisterApi.as_view(), name="auth-register"),
    path("users", views.UserListApi.as_view(), name="users-list"),
    path("users/me", views.MeApi.as_view(), name="users-me"),
    path("users/<uuid:user_id>", views.UserDetailApi.as_view(), name="users-detail"),
    # Organizations (docs/orgs.md).
    path("orgs", orgs.OrgListApi.as_view(), name="orgs-list"),
    path("orgs/invitations/accept", orgs.InvitationAcceptApi.as_view(), name="orgs-invitation-accept"),
    path("orgs/joinable", orgs.JoinableOrgListApi.as_view(), name="orgs-joinable"),
    path("orgs/<uuid:org_id>", orgs.OrgDetailApi.as_view(), name="orgs-detail"),
    path("orgs/<uuid:org_id>/join", orgs.OrgJoinApi.as_view(), name="orgs-join"),
    path("orgs/<uuid:org_id>/domains", orgs.DomainListApi.as_view(), name="orgs-domains"),
    path("orgs/<uuid:org_id>/domains/<uuid:domain_id>", orgs.DomainDetailApi.as_view(), name="orgs-domain"),
    path(
        "orgs/<uuid:org_id>/domains/<uuid:domain_id>/verify", orgs.DomainVerifyApi.as_view(), name="orgs-domain-verify"
    ),
    path("orgs/<uuid:org_id>/members", orgs.MemberListApi.as_view(), name="orgs-members"),
    path("orgs/<uuid:org_id>/members/<uuid:user_id>", orgs.MemberDetailApi.as_view(), name="orgs-member"),
    path("orgs/<uuid:org_id>/members/<uuid:user_id>/roles", orgs.MemberRoleListApi.as_view(), name="orgs-member-roles"),
    path(
        "orgs/<uuid:org_id>/members/<uuid:user_id>/roles/<uuid:grant_id>",
        orgs.MemberRoleDetailApi.as_view(),
        name="orgs-member-role",
    ),
    path("orgs/<uuid:org_id>/notifications", orgs.OrgNotificationApi.as_view(), name="orgs-notifications"),
    path("orgs/<uuid:org_id>/invitations", orgs.InvitationListApi.as_view(), name="orgs-invitations"),
    path(
        "orgs/<uuid:org_id>/invitations/<uuid:invitation_id>",
        orgs.InvitationDetailApi.as_view(),
        name="orgs-invitation",
    ),
    path(
        "orgs/<uuid:org_id>/invitations/<uuid:invitation_id>/resend",
        orgs.InvitationResendApi.as_view(),
        name="orgs-invitation-resend",
    ),
]
