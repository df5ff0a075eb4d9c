import uuid

from django.db import models


class SigningKey(models.Model):
    """An asymmetric key that signs access tokens. The private half is stored encrypted with a key
    derived from SECRET_KEY (never in the repo, never logged); the public half is in the JWKS
    while the key is active, and after retirement until the last token it signed has expired."""

    kid = models.CharField(max_length=64, primary_key=True)
    algorithm = models.CharField(max_length=10)
    public_jwk = models.JSONField()
    private_key_encrypted = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    # Published until this moment: retirement + the longest access-token lifetime (+ leeway).
    publish_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One key signs at a time: processes that make the first key at once cannot make two.
            models.UniqueConstraint(
                fields=["algorithm"], condition=models.Q(retired_at__isnull=True), name="auth_one_active_signing_key"
            )
        ]

    def __str__(self):
        return f"{self.kid} ({self.algorithm}{', retired' if self.retired_at else ''})"


class Session(models.Model):
    """One login: the `sid` claim of its access tokens, and the family of its refresh tokens."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField(db_index=True)  # users.User id; no cross-service foreign key
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=50, blank=True, default="")
    # OpenID Connect (docs/oidc.md). A browser (SSO) session has kind "browser"; each grant an OIDC
    # client holds is a session of kind "oidc" opened under the browser session it came from
    # (`parent`): revoking the browser session ends the grants issued under it.
    kind = models.CharField(max_length=10, default="api")
    client_id = models.CharField(max_length=64, blank=True, default="")
    scope = models.CharField(max_length=500, blank=True, default="")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    # When the user last proved who they are in the session's line (OIDC `auth_time`).
    auth_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user_id", "revoked_at"], name="auth_session_user_active")]

    def __str__(self):
        # `people`: the admin's labels of user ids (gateway/people_admin.py); alone, the id.
        return f"session {self.id} of {getattr(self, 'people', {}).get('user_id') or self.user_id}"


class RefreshToken(models.Model):
    """A refresh token, stored only as its SHA-256. `used_at` marks it spent by a rotation."""

    token_hash = models.CharField(max_length=64, unique=True)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="refresh_tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)
    # The pair issued when this one was spent, re-sent to a client that retries within the grace window.
    replaced_by = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Times this spent token was presented again and answered within the grace window: once at most.
    replays = models.PositiveSmallIntegerField(default=0)

    def __str__(self):
        return f"refresh token {self.pk} of {self.session_id}"


class OneTimeToken(models.Model):
    """Email verification and password reset tokens: hashed, single-use, expiring."""

    class Purpose(models.TextChoices):
        VERIFY_EMAIL = "verify_email"
        PASSWORD_RESET = "password_reset"

    token_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    user_id = models.UUIDField(db_index=True)
    # The email the token was issued for: a token for an old address must not verify a new one.
    email = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.purpose} token of {self.user_id}"


class TotpDevice(models.Model):
    user_id = models.UUIDField(primary_key=True)
    secret_encrypted = models.BinaryField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last time step accepted: a code is never accepted twice (RFC 6238 §5.2).
    last_used_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"TOTP of {self.user_id}{'' if self.confirmed_at else ' (unconfirmed)'}"


class MfaRecovery(models.Model):
    """A request to remove a lost (or hijacked) second factor: it takes effect at `effective_at`,
    at the next sign-in with the password alone, unless a sign-in with the second factor cancels it
    first (docs/auth.md, "Recovering a lost second factor")."""

    user_id = models.UUIDField(primary_key=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    effective_at = models.DateTimeField()

    def __str__(self):
        return f"MFA recovery of {self.user_id} at {self.effective_at}"


class RecoveryCode(models.Model):
    user_id = models.UUIDField(db_index=True)
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"recovery code of {self.user_id}"


class LoginFailure(models.Model):
    """A failed login, counted per account and per client IP over a sliding window. Kept in the
    database rather than the cache so that lockout holds in every process and through a cache outage."""

    account_key = models.CharField(max_length=64, db_index=True)  # keyed hash of the email
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["ip", "created_at"], name="auth_loginfail_ip")]

    def __str__(self):
        return f"login failure {self.account_key[:8]} {self.ip}"


class OidcClient(models.Model):
    """A relying party (docs/oidc.md). A confidential client's secret is stored only as a keyed
    hash (HMAC-SHA256 with a key derived from SECRET_KEY): the secret is high-entropy, so a slow
    hash would add nothing but latency to every token request."""

    client_id = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    secret_hash = models.CharField(max_length=64, blank=True, default="")
    public = models.BooleanField(default=False)
    first_party = models.BooleanField(default=False)
    redirect_uris = models.JSONField(default=list)
    post_logout_redirect_uris = models.JSONField(default=list, blank=True)
    grant_types = models.JSONField(default=list)
    # RBAC in tokens, opt-in: the scope (e.g. "org:acme") whose permissions a `permissions`
    # claim lists; empty for no such claim.
    permissions_scope = models.CharField(max_length=200, blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "OpenID Connect client"

    def __str__(self):
        return f"{self.name} ({self.client_id})"


class AuthorizationCode(models.Model):
    """A code of the authorization code flow: stored hashed, short-lived, used once. A second
    use revokes the session the first one opened (RFC 9700 §4.2, RFC 6749 §4.1.2)."""

    code_hash = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(OidcClient, on_delete=models.CASCADE, related_name="+")
    user_id = models.UUIDField()
    browser_session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="+")
    redirect_uri = models.TextField()
    scope = models.CharField(max_length=500)
    nonce = models.CharField(max_length=500, blank=True, default="")
    code_challenge = models.CharField(max_length=128)
    code_challenge_method = models.CharField(max_length=10, default="S256")
    auth_time = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    issued_session = models.ForeignKey(Session, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self):
        return f"authorization code for {self.client_id}"


class OidcConsent(models.Model):
    """The scopes a user allowed a (third-party) client; asked again when a client wants more."""

    user_id = models.UUIDField()
    client = models.ForeignKey(OidcClient, on_delete=models.CASCADE, related_name="consents")
    scope = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_id", "client"], name="auth_one_consent_per_client")]

    def __str__(self):
        return f"consent of {self.user_id} to {self.client_id}"


class Passkey(models.Model):
    """A WebAuthn credential (docs/auth.md, "Passkeys"): its public key, never a secret."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField(db_index=True)
    # base64url of the authenticator's credential id (at most 1023 bytes).
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField()  # COSE_Key, as the authenticator sent it
    sign_count = models.BigIntegerField(default=0)
    name = models.CharField(max_length=100)
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True, default="")
    backed_up = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Set when an assertion's signature counter went backwards (a cloned authenticator, maybe):
    # the credential no longer signs in until staff look at it.
    flagged_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        # `people`: the admin's labels of user ids (gateway/people_admin.py); alone, the id.
        return f"passkey {self.name!r} of {getattr(self, 'people', {}).get('user_id') or self.user_id}"


class WebauthnChallenge(models.Model):
    """A challenge handed out with registration or sign-in options: single-use, expiring. Found by
    the challenge the browser signed (clientDataJSON), stored only as its hash."""

    class Purpose(models.TextChoices):
        REGISTER = "register"
        LOGIN = "login"
        # A first passkey, for an account that must have one, after its password (and code).
        ENROL = "enrol"

    challenge_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    # Registration: the user adding a passkey. Sign-in with an email: the user it names (a nil
    # UUID for an unknown address); without one (a discoverable credential): null.
    user_id = models.UUIDField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"{self.purpose} challenge until {self.expires_at}"
