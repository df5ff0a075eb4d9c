"""The notification types, declared in code: what each one may carry and where it may go.

Each type has three templates under `notifications/templates/notifications/`:
`<code>.subject.txt`, `<code>.txt` (plain text: the mail's text part and the in-app body) and
`<code>.html` (the mail's HTML part, autoescaped). They see only the context the type declares,
plus what the service derives: `link` for a type with a sealed token, and `frontend_url`.
"""

from __future__ import annotations

from dataclasses import dataclass

from notifications.interface import (
    CHANNEL_EMAIL,
    CHANNEL_IN_APP,
    CHANNEL_WEBHOOK,
    TYPE_ANNOUNCEMENT,
    TYPE_APPLICATION_AUTHORIZED,
    TYPE_EMAIL_CHANGED,
    TYPE_EMAIL_VERIFICATION,
    TYPE_MFA_CHANGED,
    TYPE_ORG_INVITATION,
    TYPE_PASSKEY_CHANGED,
    TYPE_PASSWORD_CHANGED,
    TYPE_PASSWORD_RESET,
    TYPE_REFRESH_TOKEN_REUSED,
    TYPE_ROLE_ASSIGNED,
    TYPE_WELCOME,
    NotificationType,
    UnknownNotificationType,
)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    required: bool = True
    max_length: int = 200
    # A one-time token sealed with project.crypto.seal(purpose=auth.interface.ONE_TIME_TOKEN_SEAL).
    # Stored sealed; unsealed only to build the `link` of the message being sent.
    sealed: bool = False
    # Whether the field may carry a link. Where no template expects one, a link-like text (an
    # application's name "Verify now at https://…") is defanged so that no mail client makes it
    # clickable (issue 15, item 7).
    links: bool = False


@dataclass(frozen=True, slots=True)
class TypeDefinition:
    code: str
    description: str
    channels: tuple[str, ...]
    default_channels: tuple[str, ...]
    mandatory: bool
    fields: tuple[Field, ...] = ()
    # For a type with a sealed token: the frontend page its link opens, `?token=<token>` appended.
    link_path: str | None = None
    # Sent by Gatehouse itself, from its own events (never through send_notification(), the API or gRPC).
    system: bool = False
    # The context field holding the address the mail goes to, when it is not the user's email (a
    # new address being verified, the old one being told of a change). Only on system types.
    email_to: str | None = None
    # Mailed to the `email_to` address even when the recipient id is no account (yet): an
    # invitation to an address that has none. Only on system types with `email_to`.
    guest: bool = False

    def field(self, name: str) -> Field | None:
        return next((field for field in self.fields if field.name == name), None)

    @property
    def reserved(self) -> bool:
        """Callers of send_notification() may not use it: a system type, a mandatory one (it reaches users who
        opted out, so a forged one is a phishing channel) or one that carries a sealed token."""
        return self.system or self.mandatory or self.sealed_field is not None

    @property
    def sealed_field(self) -> Field | None:
        return next((field for field in self.fields if field.sealed), None)

    def public(self) -> NotificationType:
        return NotificationType(
            code=self.code,
            description=self.description,
            default_channels=self.default_channels,
            channels=self.channels,
            mandatory=self.mandatory,
            context_fields=tuple(field.name for field in self.fields),
            required_context_fields=tuple(field.name for field in self.fields if field.required),
        )


SEALED_TOKEN = Field("sealed_token", max_length=1000, sealed=True)
IP = Field("ip", required=False, max_length=64)

# A message that carries a token goes by email only: an in-app or webhook copy would put it in
# other hands readable. The webhook channel is never a default: a deployment configures it.
TYPES: dict[str, TypeDefinition] = {
    definition.code: definition
    for definition in (
        TypeDefinition(
            code=TYPE_EMAIL_VERIFICATION,
            description="A link that confirms the user's email address.",
            channels=(CHANNEL_EMAIL,),
            default_channels=(CHANNEL_EMAIL,),
            mandatory=True,
            fields=(SEALED_TOKEN, Field("address", required=False, max_length=254)),
            link_path="/verify-email",
            system=True,
            email_to="address",
        ),
        TypeDefinition(
            code=TYPE_EMAIL_CHANGED,
            description="Security notice to the old address: the account's email was changed.",
            channels=(CHANNEL_EMAIL,),
            default_channels=(CHANNEL_EMAIL,),
            mandatory=True,
            fields=(Field("address", max_length=254), Field("new_email", max_length=254)),
            system=True,
            email_to="address",
        ),
        TypeDefinition(
            code=TYPE_ORG_INVITATION,
            description="An invitation to join an organization, with the link that accepts it.",
            channels=(CHANNEL_EMAIL,),
            default_channels=(CHANNEL_EMAIL,),
            mandatory=True,
            fields=(
                SEALED_TOKEN,
                Field("address", max_length=254),
                Field("org_name", max_length=150),
                Field("role", max_length=20),
            ),
            link_path="/accept-invitation",
            system=True,
            email_to="address",
            guest=True,
        ),
        TypeDefinition(
            code=TYPE_PASSWORD_RESET,
            description="A link that sets a new password.",
            channels=(CHANNEL_EMAIL,),
            default_channels=(CHANNEL_EMAIL,),
            mandatory=True,
            fields=(SEALED_TOKEN, IP),
            link_path="/reset-password",
            system=True,
        ),
        TypeDefinition(
            code=TYPE_PASSWORD_CHANGED,
            description="Security notice: the account's password was changed or reset.",
            channels=(CHANNEL_EMAIL, CHANNEL_IN_APP, CHANNEL_WEBHOOK),
            default_channels=(CHANNEL_EMAIL, CHANNEL_IN_APP),
            mandatory=True,
            fields=(Field("via", required=False, max_length=32),),
            system=True,
        ),
        TypeDefinition(
            code=TYPE_MFA_CHANGED,
            description="Security notice: two-factor sign-in was turned on or off, or its recovery was asked for.",
            channels=(CHANNEL_EMAIL, CHANNEL_IN_APP, CHANNEL_WEBHOOK),
            default_channels=(CHANNEL_EMAIL, CHANNEL_IN_APP),
            mandatory=True,
            fields=(Field("change", max_length=32), Field("effective_at", required=False, max_length=64)),
            system=True,
        ),
        TypeDefinition(
            code=TYPE_PASSKEY_CHANGED,
            description="Security notice: a passkey was added to the account or removed from it.",
            channels=(CHANNEL_EMAIL, CHANNEL_IN_APP, CHANNEL_WEBHOOK),
            default_channels=(CHANNEL_EMAIL, CHANNEL_IN_APP),
            mandatory=True,
            fields=(Field("change", max_length=16), Field("name", max_length=100)),
            system=True,
        ),
        TypeDefinition(
            code=TYPE_APPLICATION_AUTHORIZED,
            description="Security notice: an application got access to the account for the first time (OpenID Connect).",
            channels=(CHANNEL_EMAIL, CHANNEL_IN_APP, CHANNEL_WEBHOOK),
            default_channels=(CHANNEL_EMAIL, CHANNEL_IN_APP),
            mandatory=True,
            fields=(Field("client_name", max_length=200), Field("scope", required=False, max_length=500)),
            system=True,
        ),
        TypeDefinition(
            code=TYPE_REFRESH_TOKEN_REUSED,
            description="Security notice: a spent refresh token was presented again; the session was signed out.",
            channels=(CHANNEL_EMAIL, CHANNEL_IN_APP, CHANNEL_WEBHOOK),
            default_channels=(CHANNEL_EMAIL, CHANNEL_IN_APP),
            mandatory=True,
            fields=(Field("session_id", required=False, max_length=64), IP),
            system=True,
        ),
        TypeDefinition(
            code=TYPE_ANNOUNCEMENT,
            description="A message from the operators.",
            channels=(CHANNEL_IN_APP, CHANNEL_EMAIL, CHANNEL_WEBHOOK),
            default_channels=(CHANNEL_IN_APP, CHANNEL_EMAIL),
            mandatory=False,
            fields=(Field("subject", max_length=200), Field("body", max_length=20000, links=True)),
        ),
        # In-app by default: registration already mails the verification link.
        TypeDefinition(
            code=TYPE_WELCOME,
            description="A welcome to a newly registered user.",
            channels=(CHANNEL_IN_APP, CHANNEL_EMAIL),
            default_channels=(CHANNEL_IN_APP,),
            mandatory=False,
            fields=(Field("display_name", required=False, max_length=150),),
        ),
        TypeDefinition(
            code=TYPE_ROLE_ASSIGNED,
            description="A notice that the user was given a role.",
            channels=(CHANNEL_IN_APP, CHANNEL_EMAIL, CHANNEL_WEBHOOK),
            default_channels=(CHANNEL_IN_APP,),
            mandatory=False,
            fields=(
                Field("role", max_length=100),
                Field("scope", required=False, max_length=500),
                Field("group", required=False, max_length=100),
                Field("expires_at", required=False, max_length=64),
            ),
            system=True,
        ),
    )
}


def type_get(*, code: str) -> TypeDefinition:
    try:
        return TYPES[code]
    except (KeyError, TypeError):
        raise UnknownNotificationType(details={"type": [f"Unknown notification type {str(code)[:64]!r}."]}) from None


def list_types() -> list[TypeDefinition]:
    return [TYPES[code] for code in sorted(TYPES)]
