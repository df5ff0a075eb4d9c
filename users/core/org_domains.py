"""Verified domains of organizations and joining by domain (docs/orgs.md, "Verified domains").

An owner claims a domain and gets a token once; putting it in the TXT record
`_gatehouse-challenge.<domain>` and asking to verify proves control (dnspython, against the
system's resolver or GATEHOUSE_DNS_RESOLVER). An operator may confirm a domain without DNS. A
domain is verified by one org at most (a partial unique constraint, so two verifications at once
cannot both win). With `domain_join` `allow`, users whose verified email is at a verified domain
may join as `member`; with `auto`, they are made members when their email becomes verified, and
the verified users already there when the domain is verified or the setting turned to `auto`.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid

import dns.exception
import dns.resolver
import idna
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from permissions.interface import permission_service
from project.domains import domain_name
from users.core.orgs import _emit, _emit_now, _membership, _require, _role_ids, _str, _visible
from users.interface.orgs import (
    DOMAIN_ADDED,
    DOMAIN_CHALLENGE_LABEL,
    DOMAIN_JOIN_ALLOW,
    DOMAIN_JOIN_AUTO,
    DOMAIN_MANAGE,
    DOMAIN_REMOVED,
    DOMAIN_VERIFIED,
    MEMBER,
    MEMBER_ADDED,
    AlreadyMember,
    DnsUnavailable,
    DomainNotFound,
    DomainTaken,
    DomainVerificationFailed,
    InvalidOrgInput,
    OrgNotFound,
    org_scope,
)
from users.models import Organization, OrgDomain, User

DNS_TIMEOUT_SECONDS = 5.0
JOINABLE = (DOMAIN_JOIN_ALLOW, DOMAIN_JOIN_AUTO)
AUTO_JOIN_BATCH = 500


def normalise_domain(text: str) -> str:
    """project.domains.domain_name, refused as the API's InvalidOrgInput."""
    try:
        return domain_name(text)
    except ValueError as exc:
        raise InvalidOrgInput("The domain is not valid.", details={"domain": [str(exc)]}) from None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _resolver() -> dns.resolver.Resolver:
    configured = (settings.GATEHOUSE_DNS_RESOLVER or "").strip()
    if not configured:
        resolver = dns.resolver.Resolver()
    else:
        host, _, port = configured.rpartition(":")
        if not host:
            host, port = configured, "53"
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host.strip("[]")]
        resolver.port = int(port)
    resolver.timeout = resolver.lifetime = DNS_TIMEOUT_SECONDS
    return resolver


def txt_values(name: str) -> list[str]:
    """The TXT values at `name` (each record's strings joined); [] when there is none."""
    try:
        answer = _resolver().resolve(name, "TXT", raise_on_no_answer=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.YXDOMAIN, OSError):
        raise DnsUnavailable() from None
    if answer.rrset is None:
        return []
    return [b"".join(rdata.strings).decode("utf-8", "replace").strip() for rdata in answer.rrset]


def _domain_of(org_id: uuid.UUID, domain_id: uuid.UUID) -> OrgDomain:
    found = OrgDomain.objects.filter(id=domain_id, org_id=org_id).first()
    if found is None:
        raise DomainNotFound()
    return found


def _verified_elsewhere(domain: str, org_id: uuid.UUID) -> bool:
    return OrgDomain.objects.filter(domain=domain, verified_at__isnull=False).exclude(org_id=org_id).exists()


def add_domain(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, domain: str) -> tuple[OrgDomain, str]:
    _visible(actor_id, org_id)
    _require(actor_id, DOMAIN_MANAGE, org_id)
    name = normalise_domain(domain)
    token = secrets.token_urlsafe(32)
    with transaction.atomic(durable=True):
        if _verified_elsewhere(name, org_id) or OrgDomain.objects.filter(org_id=org_id, domain=name).exists():
            raise DomainTaken()
        try:
            with transaction.atomic():
                row = OrgDomain.objects.create(
                    org_id=org_id, domain=name, token_hash=_token_hash(token), created_by=actor_id
                )
        except IntegrityError:
            raise DomainTaken() from None
        _emit(
            DOMAIN_ADDED,
            {"domain_id": str(row.id), "org_id": str(org_id), "domain": name, "actor_id": _str(actor_id)},
        )
    return row, token


def list_domains(*, actor_id: uuid.UUID | None, org_id: uuid.UUID) -> list[OrgDomain]:
    _visible(actor_id, org_id)
    _require(actor_id, DOMAIN_MANAGE, org_id)
    return list(OrgDomain.objects.filter(org_id=org_id).order_by("-created_at", "-id"))


def _mark_verified(row: OrgDomain, *, by: str, actor_id: uuid.UUID | None) -> OrgDomain:
    with transaction.atomic(durable=True):
        if _verified_elsewhere(row.domain, row.org_id):
            raise DomainTaken("This domain is verified by another organization.")
        updated = OrgDomain.objects.select_for_update().filter(id=row.id).first()
        if updated is None:
            raise DomainNotFound()
        if updated.verified_at is not None:
            return updated
        updated.verified_at, updated.verified_by = timezone.now(), by
        try:
            with transaction.atomic():
                updated.save(update_fields=["verified_at", "verified_by"])
        except IntegrityError:  # another org verified it in between
            raise DomainTaken("This domain is verified by another organization.") from None
        _emit(
            DOMAIN_VERIFIED,
            {
                "domain_id": str(updated.id),
                "org_id": str(updated.org_id),
                "domain": updated.domain,
                "by": by,
                "actor_id": _str(actor_id),
            },
        )
    org = Organization.objects.get(id=row.org_id)
    if org.domain_join == DOMAIN_JOIN_AUTO:
        auto_join_existing(org=org, domains=[updated.domain])
    return updated


def verify_domain(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, domain_id: uuid.UUID) -> OrgDomain:
    _visible(actor_id, org_id)
    _require(actor_id, DOMAIN_MANAGE, org_id)
    row = _domain_of(org_id, domain_id)
    if row.verified_at is not None:
        return row
    if _verified_elsewhere(row.domain, org_id):
        raise DomainTaken("This domain is verified by another organization.")
    values = txt_values(f"{DOMAIN_CHALLENGE_LABEL}.{row.domain}")  # no transaction open: a network call
    if not any(secrets.compare_digest(_token_hash(value), row.token_hash) for value in values):
        raise DomainVerificationFailed(
            details={
                "record": row.record,
                "type": "TXT",
                "reason": "mismatch" if values else "missing",
            }
        )
    return _mark_verified(row, by="dns", actor_id=actor_id)


def confirm_domain(*, org_id: uuid.UUID, domain: str) -> OrgDomain:
    if not Organization.objects.filter(id=org_id).exists():
        raise OrgNotFound()
    name = normalise_domain(domain)
    row = OrgDomain.objects.filter(org_id=org_id, domain=name).first()
    if row is None:
        if _verified_elsewhere(name, org_id):
            raise DomainTaken("This domain is verified by another organization.")
        # Nobody will put this token in DNS: the operator vouches for the domain.
        row, _ = add_domain(actor_id=None, org_id=org_id, domain=name)
    return _mark_verified(row, by="operator", actor_id=None)


def delete_domain(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, domain_id: uuid.UUID) -> None:
    _visible(actor_id, org_id)
    _require(actor_id, DOMAIN_MANAGE, org_id)
    with transaction.atomic(durable=True):
        row = _domain_of(org_id, domain_id)
        row.delete()
        _emit(
            DOMAIN_REMOVED,
            {"domain_id": str(domain_id), "org_id": str(org_id), "domain": row.domain, "actor_id": _str(actor_id)},
        )


# --- Joining by domain -----------------------------------------------------------------------------


def _email_domain(user: User) -> str | None:
    """The domain of the user's email when it is verified and the account active; else None."""
    if not user.is_active or not user.is_verified or "@" not in user.email:
        return None
    try:
        return normalise_domain(user.email.rsplit("@", 1)[1])
    except InvalidOrgInput:
        return None


def _joinable_org_ids(user: User, modes=JOINABLE) -> list[uuid.UUID]:
    domain = _email_domain(user)
    if domain is None:
        return []
    return list(
        OrgDomain.objects.filter(domain=domain, verified_at__isnull=False, org__domain_join__in=modes)
        .order_by("org__name", "org_id")
        .values_list("org_id", flat=True)
    )


def list_joinable_orgs(*, user_id: uuid.UUID) -> list[Organization]:
    user = User.objects.filter(id=user_id).first()
    if user is None:
        return []
    # Not those one is a member of already (holding an org role there; a global grant is no membership).
    ids = [org_id for org_id in _joinable_org_ids(user) if _membership(org_id, user_id) is None]
    orgs = Organization.objects.in_bulk(ids)
    return [orgs[i] for i in ids if i in orgs]


def _join(org: Organization, user_id: uuid.UUID, *, how: str) -> bool:
    """Grant `member` unless the user holds an org role there; whether they were added."""
    if _membership(org.id, user_id) is not None:
        return False
    ids = _role_ids()
    # The system grants it: the org's owners chose, by verifying the domain and the setting.
    permission_service.replace_role(
        actor_id=None, user_id=user_id, scope=org_scope(org.id), role_id=ids[MEMBER], replaces=[]
    )
    _emit_now(
        MEMBER_ADDED, {"org_id": str(org.id), "user_id": str(user_id), "role": MEMBER, "actor_id": None, "via": how}
    )
    return True


def join_org(*, user_id: uuid.UUID, org_id: uuid.UUID) -> Organization:
    user = User.objects.filter(id=user_id).first()
    if user is None or org_id not in _joinable_org_ids(user):
        raise OrgNotFound()
    org = Organization.objects.get(id=org_id)
    if not _join(org, user_id, how="domain_join"):
        raise AlreadyMember()
    return org


def join_orgs_by_domain(*, user_id: uuid.UUID) -> list[Organization]:
    user = User.objects.filter(id=user_id).first()
    if user is None:
        return []
    joined = []
    for org in Organization.objects.filter(id__in=_joinable_org_ids(user, modes=(DOMAIN_JOIN_AUTO,))):
        if _join(org, user_id, how="domain_auto"):
            joined.append(org)
    return joined


def auto_join_existing(*, org: Organization, domains: list[str] | None = None) -> int:
    """Make the active users with a verified email at the org's verified `domains` (all of them
    when None) members; how many were added. Keyset batches over the users."""
    if domains is None:
        domains = list(OrgDomain.objects.filter(org=org, verified_at__isnull=False).values_list("domain", flat=True))
    added = 0
    for domain in domains:
        # Addresses are stored as typed: an IDN domain may be in its A-label or its Unicode form.
        forms = {domain}
        with contextlib.suppress(idna.IDNAError, UnicodeError):
            forms.add(idna.decode(domain))
        at_domain = Q()
        for form in forms:
            at_domain |= Q(email__endswith=f"@{form}")
        last = None
        while True:
            batch = User.objects.filter(at_domain, is_active=True, is_verified=True).order_by("id")
            if last is not None:
                batch = batch.filter(id__gt=last)
            ids = list(batch.values_list("id", flat=True)[:AUTO_JOIN_BATCH])
            if not ids:
                break
            for user_id in ids:
                added += _join(org, user_id, how="domain_auto")
            last = ids[-1]
    return added
