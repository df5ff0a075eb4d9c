import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.gatehouse.auth.v1 import auth_pb2 as _auth_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Header(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class OAuthRequest(_message.Message):
    __slots__ = ("method", "uri", "headers", "params", "client_ip")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    method: str
    uri: str
    headers: _containers.RepeatedCompositeFieldContainer[Header]
    params: _containers.RepeatedCompositeFieldContainer[Header]
    client_ip: str
    def __init__(self, method: _Optional[str] = ..., uri: _Optional[str] = ..., headers: _Optional[_Iterable[_Union[Header, _Mapping]]] = ..., params: _Optional[_Iterable[_Union[Header, _Mapping]]] = ..., client_ip: _Optional[str] = ...) -> None: ...

class OAuthResponse(_message.Message):
    __slots__ = ("status", "headers", "body")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    status: int
    headers: _containers.RepeatedCompositeFieldContainer[Header]
    body: str
    def __init__(self, status: _Optional[int] = ..., headers: _Optional[_Iterable[_Union[Header, _Mapping]]] = ..., body: _Optional[str] = ...) -> None: ...

class AuthorizePage(_message.Message):
    __slots__ = ("page", "client_name", "scopes", "login_hint", "error", "error_description")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    LOGIN_HINT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    page: str
    client_name: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    login_hint: str
    error: str
    error_description: str
    def __init__(self, page: _Optional[str] = ..., client_name: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., login_hint: _Optional[str] = ..., error: _Optional[str] = ..., error_description: _Optional[str] = ...) -> None: ...

class EndSessionPage(_message.Message):
    __slots__ = ("page", "client_name", "error", "error_description")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    page: str
    client_name: str
    error: str
    error_description: str
    def __init__(self, page: _Optional[str] = ..., client_name: _Optional[str] = ..., error: _Optional[str] = ..., error_description: _Optional[str] = ...) -> None: ...

class BrowserSignIn(_message.Message):
    __slots__ = ("session_id", "user_id", "auth_time")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    AUTH_TIME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    auth_time: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., auth_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OidcClient(_message.Message):
    __slots__ = ("client_id", "name", "public", "first_party", "redirect_uris", "post_logout_redirect_uris", "grant_types", "permissions_scope", "created_at")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    FIRST_PARTY_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URIS_FIELD_NUMBER: _ClassVar[int]
    POST_LOGOUT_REDIRECT_URIS_FIELD_NUMBER: _ClassVar[int]
    GRANT_TYPES_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_SCOPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    name: str
    public: bool
    first_party: bool
    redirect_uris: _containers.RepeatedScalarFieldContainer[str]
    post_logout_redirect_uris: _containers.RepeatedScalarFieldContainer[str]
    grant_types: _containers.RepeatedScalarFieldContainer[str]
    permissions_scope: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., name: _Optional[str] = ..., public: _Optional[bool] = ..., first_party: _Optional[bool] = ..., redirect_uris: _Optional[_Iterable[str]] = ..., post_logout_redirect_uris: _Optional[_Iterable[str]] = ..., grant_types: _Optional[_Iterable[str]] = ..., permissions_scope: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class NewOidcClient(_message.Message):
    __slots__ = ("client", "client_secret")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    client: OidcClient
    client_secret: str
    def __init__(self, client: _Optional[_Union[OidcClient, _Mapping]] = ..., client_secret: _Optional[str] = ...) -> None: ...

class DiscoveryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DiscoveryResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: str
    def __init__(self, result: _Optional[str] = ...) -> None: ...

class AuthorizeRequest(_message.Message):
    __slots__ = ("request", "browser_session_id", "decision", "fresh")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    BROWSER_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    FRESH_FIELD_NUMBER: _ClassVar[int]
    request: OAuthRequest
    browser_session_id: str
    decision: str
    fresh: bool
    def __init__(self, request: _Optional[_Union[OAuthRequest, _Mapping]] = ..., browser_session_id: _Optional[str] = ..., decision: _Optional[str] = ..., fresh: _Optional[bool] = ...) -> None: ...

class AuthorizeResponse(_message.Message):
    __slots__ = ("page", "response")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    page: AuthorizePage
    response: OAuthResponse
    def __init__(self, page: _Optional[_Union[AuthorizePage, _Mapping]] = ..., response: _Optional[_Union[OAuthResponse, _Mapping]] = ...) -> None: ...

class SignInRequest(_message.Message):
    __slots__ = ("email", "password", "otp", "client", "mfa_ticket", "passkey")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    OTP_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    MFA_TICKET_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    otp: str
    client: _auth_pb2.ClientInfo
    mfa_ticket: str
    passkey: str
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ..., otp: _Optional[str] = ..., client: _Optional[_Union[_auth_pb2.ClientInfo, _Mapping]] = ..., mfa_ticket: _Optional[str] = ..., passkey: _Optional[str] = ...) -> None: ...

class SignInResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: BrowserSignIn
    def __init__(self, result: _Optional[_Union[BrowserSignIn, _Mapping]] = ...) -> None: ...

class BrowserSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class BrowserSessionResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: BrowserSignIn
    def __init__(self, result: _Optional[_Union[BrowserSignIn, _Mapping]] = ...) -> None: ...

class SignOutRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class SignOutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TokenRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: OAuthRequest
    def __init__(self, request: _Optional[_Union[OAuthRequest, _Mapping]] = ...) -> None: ...

class TokenResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: OAuthResponse
    def __init__(self, result: _Optional[_Union[OAuthResponse, _Mapping]] = ...) -> None: ...

class RevokeRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: OAuthRequest
    def __init__(self, request: _Optional[_Union[OAuthRequest, _Mapping]] = ...) -> None: ...

class RevokeResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: OAuthResponse
    def __init__(self, result: _Optional[_Union[OAuthResponse, _Mapping]] = ...) -> None: ...

class IntrospectRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: OAuthRequest
    def __init__(self, request: _Optional[_Union[OAuthRequest, _Mapping]] = ...) -> None: ...

class IntrospectResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: OAuthResponse
    def __init__(self, result: _Optional[_Union[OAuthResponse, _Mapping]] = ...) -> None: ...

class EndSessionRequest(_message.Message):
    __slots__ = ("request", "browser_session_id", "confirmed")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    BROWSER_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    request: OAuthRequest
    browser_session_id: str
    confirmed: bool
    def __init__(self, request: _Optional[_Union[OAuthRequest, _Mapping]] = ..., browser_session_id: _Optional[str] = ..., confirmed: _Optional[bool] = ...) -> None: ...

class EndSessionResponse(_message.Message):
    __slots__ = ("page", "response")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    page: EndSessionPage
    response: OAuthResponse
    def __init__(self, page: _Optional[_Union[EndSessionPage, _Mapping]] = ..., response: _Optional[_Union[OAuthResponse, _Mapping]] = ...) -> None: ...

class UserinfoRequest(_message.Message):
    __slots__ = ("access_token",)
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    def __init__(self, access_token: _Optional[str] = ...) -> None: ...

class UserinfoResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: str
    def __init__(self, result: _Optional[str] = ...) -> None: ...

class CreateClientRequest(_message.Message):
    __slots__ = ("name", "redirect_uris", "public", "grant_types", "first_party", "post_logout_redirect_uris", "permissions_scope", "created_by")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URIS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    GRANT_TYPES_FIELD_NUMBER: _ClassVar[int]
    FIRST_PARTY_FIELD_NUMBER: _ClassVar[int]
    POST_LOGOUT_REDIRECT_URIS_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_SCOPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    name: str
    redirect_uris: _containers.RepeatedScalarFieldContainer[str]
    public: bool
    grant_types: _containers.RepeatedScalarFieldContainer[str]
    first_party: bool
    post_logout_redirect_uris: _containers.RepeatedScalarFieldContainer[str]
    permissions_scope: str
    created_by: str
    def __init__(self, name: _Optional[str] = ..., redirect_uris: _Optional[_Iterable[str]] = ..., public: _Optional[bool] = ..., grant_types: _Optional[_Iterable[str]] = ..., first_party: _Optional[bool] = ..., post_logout_redirect_uris: _Optional[_Iterable[str]] = ..., permissions_scope: _Optional[str] = ..., created_by: _Optional[str] = ...) -> None: ...

class CreateClientResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: NewOidcClient
    def __init__(self, result: _Optional[_Union[NewOidcClient, _Mapping]] = ...) -> None: ...

class ListClientsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListClientsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedCompositeFieldContainer[OidcClient]
    def __init__(self, result: _Optional[_Iterable[_Union[OidcClient, _Mapping]]] = ...) -> None: ...

class DeleteClientRequest(_message.Message):
    __slots__ = ("client_id",)
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    def __init__(self, client_id: _Optional[str] = ...) -> None: ...

class DeleteClientResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
