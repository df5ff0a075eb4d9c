"""auth.interface data objects <-> gatehouse.auth.v1 messages, for the client and the servicer.

Errors need no mapping here: project.rpc.errors carries every DomainError by its kind.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from auth.interface import ClientInfo, Principal, Session, TokenPair, TotpEnrollment
from project.kernel.errors import InvalidArgument
from project.rpc.messages import from_timestamp, timestamp
from protos.gatehouse.auth.v1 import auth_pb2 as pb


def client_to_pb(client: ClientInfo) -> pb.ClientInfo:
    return pb.ClientInfo(ip=client.ip, user_agent=client.user_agent)


def client_from_pb(message: pb.ClientInfo) -> ClientInfo:
    # An unset message reads as its defaults: ClientInfo() ("unknown").
    return ClientInfo(ip=message.ip, user_agent=message.user_agent)


def token_pair_to_pb(pair: TokenPair) -> pb.TokenPair:
    return pb.TokenPair(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        session_id=str(pair.session_id),
        token_type=pair.token_type,
    )


def token_pair_from_pb(message: pb.TokenPair) -> TokenPair:
    return TokenPair(
        access_token=message.access_token,
        refresh_token=message.refresh_token,
        expires_in=message.expires_in,
        session_id=uuid.UUID(message.session_id),
        token_type=message.token_type,
    )


def principal_to_pb(principal: Principal) -> pb.Principal:
    return pb.Principal(
        user_id=str(principal.user_id),
        session_id=str(principal.session_id),
        token_id=principal.token_id,
        expires_at=timestamp(principal.expires_at),
    )


def principal_from_pb(message: pb.Principal) -> Principal:
    return Principal(
        user_id=uuid.UUID(message.user_id),
        session_id=uuid.UUID(message.session_id),
        token_id=message.token_id,
        expires_at=from_timestamp(message.expires_at),
    )


def session_to_pb(session: Session) -> pb.Session:
    return pb.Session(
        id=str(session.id),
        user_id=str(session.user_id),
        created_at=timestamp(session.created_at),
        last_used_at=timestamp(session.last_used_at),
        expires_at=timestamp(session.expires_at),
        ip=session.ip,
        user_agent=session.user_agent,
        revoked_at=None if session.revoked_at is None else timestamp(session.revoked_at),
        kind=session.kind,
        client_id=session.client_id,
        client_name=session.client_name,
    )


def session_from_pb(message: pb.Session) -> Session:
    return Session(
        id=uuid.UUID(message.id),
        user_id=uuid.UUID(message.user_id),
        created_at=from_timestamp(message.created_at),
        last_used_at=from_timestamp(message.last_used_at),
        expires_at=from_timestamp(message.expires_at),
        ip=message.ip,
        user_agent=message.user_agent,
        revoked_at=from_timestamp(message.revoked_at) if message.HasField("revoked_at") else None,
        kind=message.kind or "api",
        client_id=message.client_id,
        client_name=message.client_name,
    )


def enrollment_to_pb(enrollment: TotpEnrollment) -> pb.TotpEnrollment:
    return pb.TotpEnrollment(
        secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri, recovery_codes=list(enrollment.recovery_codes)
    )


def enrollment_from_pb(message: pb.TotpEnrollment) -> TotpEnrollment:
    return TotpEnrollment(
        secret=message.secret, otpauth_uri=message.otpauth_uri, recovery_codes=tuple(message.recovery_codes)
    )


def jwks_to_pb(jwks: dict) -> pb.JwksResponse:
    return pb.JwksResponse(jwks_json=json.dumps(jwks, separators=(",", ":")))


def jwks_from_pb(message: pb.JwksResponse) -> dict:
    return json.loads(message.jwks_json)


# --- servicer side: request fields -> keyword arguments of the interface ---------------------------


def uuid_from(request: Any, field: str) -> uuid.UUID:
    """The UUID in `request.<field>`. Python callers send canonical UUIDs; a caller in another
    language may send anything, and gets INVALID_ARGUMENT for it rather than an internal error."""
    try:
        return uuid.UUID(getattr(request, field))
    except ValueError:
        raise InvalidArgument(f"{field} is not a valid UUID.", details={field: ["Must be a UUID."]}) from None


def optional_uuid_from(request: Any, field: str) -> uuid.UUID | None:
    return uuid_from(request, field) if request.HasField(field) else None
