"""project.rpc.codec: any value a Protocol method takes or returns crosses the wire unchanged, and a
Protocol and a `.proto` that disagree fail at start-up, not at the first call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Protocol

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth.interface import ClientInfo
from auth.interface.oidc import (
    AuthorizePage,
    BrowserSignIn,
    EndSessionPage,
    NewOidcClient,
    OAuthRequest,
    OAuthResponse,
    OidcClient,
    OidcProvider,
)
from project.kernel.errors import InvalidArgument
from project.rpc.codec import ContractMismatch, _methods, remote_client, rpc_name, servicer
from protos.gatehouse.auth.v1 import oidc_pb2, oidc_pb2_grpc

METHODS = {method.name: method for method in _methods(OidcProvider, oidc_pb2, "OidcProvider")}

text = st.text(max_size=30)
pairs = st.lists(st.tuples(text, text), max_size=4).map(tuple)
moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
requests = st.builds(OAuthRequest, method=text, uri=text, headers=pairs, params=pairs, client_ip=text)
responses = st.builds(OAuthResponse, status=st.integers(100, 599), headers=pairs, body=text)
pages = st.builds(
    AuthorizePage,
    page=text,
    client_name=text,
    scopes=st.lists(text, max_size=3).map(tuple),
    login_hint=text,
    error=text,
    error_description=text,
)
clients = st.builds(
    OidcClient,
    client_id=text,
    name=text,
    public=st.booleans(),
    first_party=st.booleans(),
    redirect_uris=st.lists(text, max_size=3).map(tuple),
    post_logout_redirect_uris=st.lists(text, max_size=3).map(tuple),
    grant_types=st.lists(text, max_size=3).map(tuple),
    permissions_scope=text,
    created_at=moments,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)


def crossed_request(name: str, arguments: dict) -> dict:
    """The keyword arguments the server calls with, the interface's defaults applied to what an
    unset `optional` field left out."""
    method = METHODS[name]
    wire = method.encode_request(arguments, InvalidArgument).SerializeToString()
    bound = method.signature.bind(
        None, **method.decode_request(method.request.FromString(wire), InvalidArgument, False)
    )
    bound.apply_defaults()
    return {name: value for name, value in bound.arguments.items() if name != "self"}


def crossed_result(name: str, value):
    method = METHODS[name]
    wire = method.encode_response(value).SerializeToString()
    return method.decode_response(method.response.FromString(wire))


@given(request=requests, session=st.none() | st.uuids(), decision=text, fresh=st.booleans())
def test_a_request_with_pairs_an_optional_uuid_and_defaults_crosses_unchanged(request, session, decision, fresh):
    arguments = {"request": request, "browser_session_id": session, "decision": decision, "fresh": fresh}
    assert crossed_request("authorize", arguments) == arguments


@given(value=pages | responses)
def test_a_union_result_comes_back_as_the_same_class(value):
    assert crossed_result("authorize", value) == value


@given(value=st.builds(EndSessionPage, page=text, client_name=text, error=text, error_description=text) | responses)
def test_the_end_session_union_crosses_unchanged(value):
    assert crossed_result("end_session", value) == value


@given(value=st.none() | st.builds(BrowserSignIn, session_id=st.uuids(), user_id=st.uuids(), auth_time=moments))
def test_an_optional_result_and_a_timestamp_cross_unchanged(value):
    assert crossed_result("browser_session", value) == value


@given(client=clients, secret=st.none() | text)
def test_nested_messages_and_an_optional_secret_cross_unchanged(client, secret):
    assert crossed_result("create_client", NewOidcClient(client=client, client_secret=secret)) == NewOidcClient(
        client=client, client_secret=secret
    )


@given(value=st.lists(clients, max_size=3))
def test_a_list_result_crosses_unchanged(value):
    assert crossed_result("list_clients", value) == value


@given(value=st.dictionaries(text, json_values, max_size=5))
def test_free_form_json_crosses_unchanged(value):
    assert crossed_result("userinfo", value) == value


@given(otp=st.none() | text, ip=text, agent=text, created_by=st.none() | st.uuids())
def test_optional_scalars_and_nested_dataclasses_in_requests(otp, ip, agent, created_by):
    arguments = {
        "email": "a@b.c",
        "password": "p",
        "otp": otp,
        "client": ClientInfo(ip=ip, user_agent=agent),
        "mfa_ticket": "",
        "passkey": None,
    }
    assert crossed_request("sign_in", arguments) == arguments
    created = {
        "name": "n",
        "redirect_uris": ["https://x"],
        "public": True,
        "grant_types": None,  # empty repeated: the interface's default
        "first_party": False,
        "post_logout_redirect_uris": ["https://y"],
        "permissions_scope": "",
        "created_by": created_by,
    }
    assert crossed_request("create_client", created) == created


def test_the_generated_client_has_the_protocols_signatures():
    from project.kernel.delegation import check_implements

    client = remote_client(OidcProvider, oidc_pb2, oidc_pb2_grpc, "OidcProvider")(target="127.0.0.1:1")
    check_implements(OidcProvider, client)  # raises on any difference
    assert rpc_name("create_client") == "CreateClient"


def test_a_protocol_the_proto_does_not_match_fails_at_start_up():
    class Extra(OidcProvider, Protocol):
        def client_rename(self, *, client_id: str, name: str) -> None: ...

    class Fewer(Protocol):
        def discovery(self) -> dict: ...

        def sign_out(self, *, session_id: uuid.UUID, everywhere: bool) -> None: ...

    with pytest.raises(ContractMismatch, match="no rpc ClientRename"):
        remote_client(Extra, oidc_pb2, oidc_pb2_grpc, "OidcProvider")
    with pytest.raises(ContractMismatch) as raised:
        remote_client(Fewer, oidc_pb2, oidc_pb2_grpc, "OidcProvider")
    assert "SignOutRequest: fields ['session_id'] != parameters ['everywhere', 'session_id']" in str(raised.value)
    assert "rpcs with no method in Fewer" in str(raised.value)


def test_a_lenient_method_the_protocol_does_not_have_fails_at_start_up():
    with pytest.raises(ContractMismatch, match=r"lenient names no method of OidcProvider: \['client_create'\]"):
        servicer(OidcProvider, object(), oidc_pb2, oidc_pb2_grpc, "OidcProvider", lenient={"client_create"})
