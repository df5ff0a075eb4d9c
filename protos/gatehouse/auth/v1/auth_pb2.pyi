import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClientInfo(_message.Message):
    __slots__ = ("ip", "user_agent")
    IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    ip: str
    user_agent: str
    def __init__(self, ip: _Optional[str] = ..., user_agent: _Optional[str] = ...) -> None: ...

class TokenPair(_message.Message):
    __slots__ = ("access_token", "refresh_token", "expires_in", "session_id", "token_type")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    token_type: str
    def __init__(self, access_token: _Optional[str] = ..., refresh_token: _Optional[str] = ..., expires_in: _Optional[int] = ..., session_id: _Optional[str] = ..., token_type: _Optional[str] = ...) -> None: ...

class Principal(_message.Message):
    __slots__ = ("user_id", "session_id", "token_id", "expires_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    session_id: str
    token_id: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., session_id: _Optional[str] = ..., token_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("id", "user_id", "created_at", "last_used_at", "expires_at", "ip", "user_agent", "revoked_at", "kind", "client_id", "client_name")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    created_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    ip: str
    user_agent: str
    revoked_at: _timestamp_pb2.Timestamp
    kind: str
    client_id: str
    client_name: str
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ip: _Optional[str] = ..., user_agent: _Optional[str] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[str] = ..., client_id: _Optional[str] = ..., client_name: _Optional[str] = ...) -> None: ...

class TotpEnrollment(_message.Message):
    __slots__ = ("secret", "otpauth_uri", "recovery_codes")
    SECRET_FIELD_NUMBER: _ClassVar[int]
    OTPAUTH_URI_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_CODES_FIELD_NUMBER: _ClassVar[int]
    secret: str
    otpauth_uri: str
    recovery_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, secret: _Optional[str] = ..., otpauth_uri: _Optional[str] = ..., recovery_codes: _Optional[_Iterable[str]] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("email", "password", "otp", "client", "passkey")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    OTP_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    otp: str
    client: ClientInfo
    passkey: str
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ..., otp: _Optional[str] = ..., client: _Optional[_Union[ClientInfo, _Mapping]] = ..., passkey: _Optional[str] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: TokenPair
    def __init__(self, result: _Optional[_Union[TokenPair, _Mapping]] = ...) -> None: ...

class RefreshRequest(_message.Message):
    __slots__ = ("refresh_token", "client")
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    client: ClientInfo
    def __init__(self, refresh_token: _Optional[str] = ..., client: _Optional[_Union[ClientInfo, _Mapping]] = ...) -> None: ...

class RefreshResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: TokenPair
    def __init__(self, result: _Optional[_Union[TokenPair, _Mapping]] = ...) -> None: ...

class VerifyAccessTokenRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class VerifyAccessTokenResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Principal
    def __init__(self, result: _Optional[_Union[Principal, _Mapping]] = ...) -> None: ...

class LogoutRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class LogoutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SessionForRefreshTokenRequest(_message.Message):
    __slots__ = ("refresh_token",)
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    def __init__(self, refresh_token: _Optional[str] = ...) -> None: ...

class SessionForRefreshTokenResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: str
    def __init__(self, result: _Optional[str] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedCompositeFieldContainer[Session]
    def __init__(self, result: _Optional[_Iterable[_Union[Session, _Mapping]]] = ...) -> None: ...

class RevokeSessionRequest(_message.Message):
    __slots__ = ("user_id", "session_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    session_id: str
    def __init__(self, user_id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class RevokeSessionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RevokeAllSessionsRequest(_message.Message):
    __slots__ = ("user_id", "except_session_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EXCEPT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    except_session_id: str
    def __init__(self, user_id: _Optional[str] = ..., except_session_id: _Optional[str] = ...) -> None: ...

class RevokeAllSessionsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: int
    def __init__(self, result: _Optional[int] = ...) -> None: ...

class ChangePasswordRequest(_message.Message):
    __slots__ = ("user_id", "session_id", "old_password", "new_password")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    NEW_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    session_id: str
    old_password: str
    new_password: str
    def __init__(self, user_id: _Optional[str] = ..., session_id: _Optional[str] = ..., old_password: _Optional[str] = ..., new_password: _Optional[str] = ...) -> None: ...

class ChangePasswordResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RequestPasswordResetRequest(_message.Message):
    __slots__ = ("email", "client")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    email: str
    client: ClientInfo
    def __init__(self, email: _Optional[str] = ..., client: _Optional[_Union[ClientInfo, _Mapping]] = ...) -> None: ...

class RequestPasswordResetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConfirmPasswordResetRequest(_message.Message):
    __slots__ = ("token", "new_password")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    NEW_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    token: str
    new_password: str
    def __init__(self, token: _Optional[str] = ..., new_password: _Optional[str] = ...) -> None: ...

class ConfirmPasswordResetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RequestEmailVerificationRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class RequestEmailVerificationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyEmailRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class VerifyEmailResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: str
    def __init__(self, result: _Optional[str] = ...) -> None: ...

class EnrollTotpRequest(_message.Message):
    __slots__ = ("user_id", "password")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    password: str
    def __init__(self, user_id: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class EnrollTotpResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: TotpEnrollment
    def __init__(self, result: _Optional[_Union[TotpEnrollment, _Mapping]] = ...) -> None: ...

class ConfirmTotpRequest(_message.Message):
    __slots__ = ("user_id", "otp", "session_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    OTP_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    otp: str
    session_id: str
    def __init__(self, user_id: _Optional[str] = ..., otp: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class ConfirmTotpResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DisableTotpRequest(_message.Message):
    __slots__ = ("user_id", "password", "session_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    password: str
    session_id: str
    def __init__(self, user_id: _Optional[str] = ..., password: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class DisableTotpResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RequestMfaRecoveryRequest(_message.Message):
    __slots__ = ("email", "password", "client")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    client: ClientInfo
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ..., client: _Optional[_Union[ClientInfo, _Mapping]] = ...) -> None: ...

class RequestMfaRecoveryResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _timestamp_pb2.Timestamp
    def __init__(self, result: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MfaEnabledRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class MfaEnabledResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: bool
    def __init__(self, result: _Optional[bool] = ...) -> None: ...

class JwksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class JwksResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: str
    def __init__(self, result: _Optional[str] = ...) -> None: ...

class Passkey(_message.Message):
    __slots__ = ("id", "name", "created_at", "last_used_at", "flagged_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    created_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    flagged_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., flagged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PasskeyRegistrationOptionsRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class PasskeyRegistrationOptionsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: str
    def __init__(self, result: _Optional[str] = ...) -> None: ...

class RegisterPasskeyRequest(_message.Message):
    __slots__ = ("user_id", "credential", "name")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    credential: str
    name: str
    def __init__(self, user_id: _Optional[str] = ..., credential: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RegisterPasskeyResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Passkey
    def __init__(self, result: _Optional[_Union[Passkey, _Mapping]] = ...) -> None: ...

class ListPasskeysRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListPasskeysResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedCompositeFieldContainer[Passkey]
    def __init__(self, result: _Optional[_Iterable[_Union[Passkey, _Mapping]]] = ...) -> None: ...

class RenamePasskeyRequest(_message.Message):
    __slots__ = ("user_id", "passkey_id", "name")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    passkey_id: str
    name: str
    def __init__(self, user_id: _Optional[str] = ..., passkey_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RenamePasskeyResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Passkey
    def __init__(self, result: _Optional[_Union[Passkey, _Mapping]] = ...) -> None: ...

class RemovePasskeyRequest(_message.Message):
    __slots__ = ("user_id", "passkey_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    passkey_id: str
    def __init__(self, user_id: _Optional[str] = ..., passkey_id: _Optional[str] = ...) -> None: ...

class RemovePasskeyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PasskeyLoginOptionsRequest(_message.Message):
    __slots__ = ("email",)
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    email: str
    def __init__(self, email: _Optional[str] = ...) -> None: ...

class PasskeyLoginOptionsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: str
    def __init__(self, result: _Optional[str] = ...) -> None: ...

class LoginWithPasskeyRequest(_message.Message):
    __slots__ = ("credential", "client")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    credential: str
    client: ClientInfo
    def __init__(self, credential: _Optional[str] = ..., client: _Optional[_Union[ClientInfo, _Mapping]] = ...) -> None: ...

class LoginWithPasskeyResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: TokenPair
    def __init__(self, result: _Optional[_Union[TokenPair, _Mapping]] = ...) -> None: ...
