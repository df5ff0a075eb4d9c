"""Organizations (docs/orgs.md): people and orgs the tests start from, made through the services."""

from __future__ import annotations

import pytest

from tests.support.factories import RoleFactory, UserFactory
from tests.support.http import client_for
from users.interface.orgs import org_service


def make_org(owner, slug: str, name: str | None = None):
    return org_service.create_org(actor_id=owner.id, name=name or slug.title(), slug=slug)


@pytest.fixture
def acme(db):
    """Acme with an owner, an admin and a member, each with a signed-in client."""
    owner, admin, member = UserFactory(), UserFactory(), UserFactory()
    org = make_org(owner, "acme")
    org_service.add_member(actor_id=owner.id, org_id=org.id, user_id=admin.id, role="admin")
    org_service.add_member(actor_id=owner.id, org_id=org.id, user_id=member.id, role="member")
    return org, {"owner": owner, "admin": admin, "member": member}


def clients(people: dict) -> dict:
    return {name: client_for(user) for name, user in people.items()}


def turn_on_totp(user):
    """Enrol and confirm TOTP for `user` through the auth service, which ends their sessions; a
    client signed in again with a one-time code."""
    import pyotp
    from rest_framework.test import APIClient

    from auth.interface import auth_service
    from tests.support.factories import PASSWORD
    from tests.support.http import bearer, tokens_of

    enrollment = auth_service.enroll_totp(user_id=user.id, password=PASSWORD)
    totp = pyotp.TOTP(enrollment.secret)
    auth_service.confirm_totp(user_id=user.id, otp=totp.now())
    api = APIClient()
    api.credentials(**bearer(tokens_of(api, user.email, PASSWORD, otp=enrollment.recovery_codes[0])["access_token"]))
    return api


@pytest.fixture
def world(db):
    """Two orgs, each with an owner, an admin, a member, a second member with a custom role (the
    target of member routes) and a pending invitation; and an outsider in neither."""
    helper = RoleFactory(name="helper", permissions=["orgs.member.view"])
    orgs = {}
    for slug in ("acme", "globex"):
        owner, admin, member, target = UserFactory(), UserFactory(), UserFactory(), UserFactory()
        org = make_org(owner, slug)
        for user, role in ((admin, "admin"), (member, "member"), (target, "member")):
            org_service.add_member(actor_id=owner.id, org_id=org.id, user_id=user.id, role=role)
        grant = org_service.grant_member_role(actor_id=owner.id, org_id=org.id, user_id=target.id, role_id=helper.id)
        invitation, _ = org_service.create_invitation(
            actor_id=owner.id, org_id=org.id, email=f"guest@{slug}.example", role="member"
        )
        domain, _ = org_service.add_domain(actor_id=owner.id, org_id=org.id, domain=f"{slug}.example")
        orgs[slug] = {
            "org": org,
            "owner": owner,
            "admin": admin,
            "member": member,
            "target": target,
            "grant": grant,
            "invitation": invitation,
            "domain": domain,
        }
    return {"orgs": orgs, "outsider": UserFactory(), "helper": helper}


class DnsServer:
    """A real DNS server on loopback UDP (a thread answering with dnspython's wire format): TXT
    records from `txt` (name without the trailing dot → values), NXDOMAIN for any other name."""

    def __init__(self):
        import socket
        import threading

        self.txt: dict[str, list[str]] = {}
        self.queries: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import dns.message
        import dns.rcode
        import dns.rdataclass
        import dns.rdatatype
        import dns.rrset

        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text(omit_final_dot=True).lower()
            self.queries.append(name)
            values = self.txt.get(name)
            if values is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT:
                response.answer.append(
                    dns.rrset.from_text_list(
                        question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT, [f'"{v}"' for v in values]
                    )
                )
            self.sock.sendto(response.to_wire(), peer)

    def close(self):
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def dns_server(settings):
    """A DNS server on loopback that the domain verification asks (GATEHOUSE_DNS_RESOLVER)."""
    server = DnsServer()
    settings.GATEHOUSE_DNS_RESOLVER = server.address
    yield server
    server.close()
