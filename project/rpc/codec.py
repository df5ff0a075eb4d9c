"""A service's gRPC client and servicer made from its Protocol and its `.proto`, with no
hand-written plumbing per method (docs/grpc.md, "The codec").

The `.proto` stays the typed wire contract; the Protocol's type hints say how each field becomes
a Python value and back:

- a method `create_client` is the RPC `CreateClient`, taking `CreateClientRequest` (one field per
  keyword parameter, same names) and answering `CreateClientResponse`: no field when the method
  returns None, else its value in a field named `result` (or a `oneof result` when the method
  returns one of several dataclasses: each member's message is named after its class);
- `uuid.UUID` is a string; `datetime` a `google.protobuf.Timestamp`; an `Enum` its value; a
  `dict` (free-form JSON, as an OAuth response body or discovery document is) a JSON string;
- a dataclass is a message with fields of the same names; a fixed tuple (`tuple[str, str]`) a
  message whose fields are taken in order;
- `list[X]` and `tuple[X, ...]` are `repeated`; `X | None` is an `optional` field (or a message
  field, which has presence) left unset for None; an empty `repeated` field is None when the hint
  allows None.

`remote_client(...)` builds the client installed when `<SERVICE>_GRPC_TARGET` is set; `servicer(...)`
the server side. Both check at start-up that the Protocol and the `.proto` agree, method by method
and field by field, so a mismatch fails the process before any call does.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import types
import typing
import uuid
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from project.kernel.errors import DomainError, InvalidArgument

from .client import ServiceClient

TIMESTAMP = "google.protobuf.Timestamp"


class ContractMismatch(TypeError):
    """The Protocol and the `.proto` disagree (raised at start-up)."""


# --- hints -----------------------------------------------------------------------------------------


def _split_optional(hint: Any) -> tuple[Any, bool]:
    """(the hint without None, whether None was allowed)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        allowed = len(args) != len(typing.get_args(hint))
        if len(args) == 1:
            return args[0], allowed
        return typing.Union[tuple(args)], allowed  # noqa: UP007 - rebuilt from parts
    return hint, False


def _members(hint: Any) -> tuple[Any, ...]:
    """The alternatives of a union hint (one for any other hint)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _item_hint(hint: Any) -> Any:
    """The element hint of list[X] / tuple[X, ...]; None when `hint` is no sequence."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (list, set, frozenset) and args:
        return args[0]
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _hints_of(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


# --- encoding: Python -> protobuf -----------------------------------------------------------------


INT32 = (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32)


def _scalar(value: Any, field: FieldDescriptor) -> Any:
    if field.type in INT32 and isinstance(value, int) and not isinstance(value, bool):
        # Clamped: an out-of-range value gets the server's validation error, not an encoding error.
        return max(-(2**31), min(2**31 - 1, value))
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict | list) and field.type == FieldDescriptor.TYPE_STRING:
        return json.dumps(value, separators=(",", ":"), default=_unencodable)
    return value


def _unencodable(value: Any) -> dict[str, str]:
    # A value JSON cannot carry (a date, a set) is not a string either: it travels as an object
    # naming its type, which the service refuses exactly as it refuses the value itself.
    return {"unencodable": type(value).__name__}


def _fill(message: Message, value: Any, hint: Any) -> None:
    """Write `value` (a dataclass, a fixed tuple or a datetime) into `message`."""
    if message.DESCRIPTOR.full_name == TIMESTAMP:
        if value.tzinfo is None or value.utcoffset() is None:
            raise _NaiveTime()
        message.FromDatetime(value.astimezone(UTC))
        return
    fields = message.DESCRIPTOR.fields
    if isinstance(value, tuple) and not dataclasses.is_dataclass(value):
        for field, item, item_hint in zip(fields, value, typing.get_args(hint), strict=True):
            _set(message, field, item, item_hint)
        return
    hints = _hints_of(type(value))
    for field in fields:
        _set(message, field, getattr(value, field.name), hints[field.name])


def _set(message: Message, field: FieldDescriptor, value: Any, hint: Any) -> None:
    if value is None:
        return
    hint, _ = _split_optional(hint)
    if field.is_repeated:
        container = getattr(message, field.name)
        item_hint = _item_hint(hint)
        for item in value:
            if field.message_type is not None:
                _fill(container.add(), item, item_hint)
            else:
                container.append(_scalar(item, field))
        return
    if field.message_type is not None:
        sub = getattr(message, field.name)
        if _is_list_wrapper(field, hint):  # set even when empty: empty is not None
            sub.SetInParent()
            _set(sub, field.message_type.fields[0], value, hint)
            return
        _fill(sub, value, hint)
        return
    setattr(message, field.name, _scalar(value, field))


def _set_result(message: Message, value: Any, hint: Any) -> None:
    """Write a method's return value into its Response (`result`, or the `oneof result` member
    named after the value's class)."""
    if value is None:
        return
    oneof = message.DESCRIPTOR.oneofs_by_name.get("result")
    if oneof is None:
        result = message.DESCRIPTOR.fields_by_name.get("result")
        if result is None:  # the Response's own fields are the dataclass's
            _fill(message, value, type(value))
        else:
            _set(message, result, value, hint)
        return
    for field in oneof.fields:
        if field.message_type.name == type(value).__name__:
            _fill(getattr(message, field.name), value, type(value))
            return
    raise ContractMismatch(f"{message.DESCRIPTOR.full_name}: no member of `oneof result` for {type(value).__name__}")


# --- decoding: protobuf -> Python -----------------------------------------------------------------


def _read(message: Message, hint: Any) -> Any:
    """A dataclass, fixed tuple or datetime from `message`, as `hint` says."""
    if message.DESCRIPTOR.full_name == TIMESTAMP:
        return message.ToDatetime(tzinfo=UTC)
    fields = message.DESCRIPTOR.fields
    if typing.get_origin(hint) is tuple:
        return tuple(
            _get(message, field, item_hint) for field, item_hint in zip(fields, typing.get_args(hint), strict=True)
        )
    hints = _hints_of(hint)
    return hint(**{field.name: _get(message, field, hints[field.name]) for field in fields})


class _Undecodable(ValueError):
    """A request value no Python caller would send (a caller in another language may send
    anything): refused as INVALID_ARGUMENT naming the parameter, never an internal error."""

    def __init__(self, uuid_expected: bool):
        self.uuid_expected = uuid_expected


class _NaiveTime(ValueError):
    """A datetime without a time zone: a Timestamp is an instant, and a naive time would be read in
    this process's zone."""


def _get(message: Message, field: FieldDescriptor, hint: Any) -> Any:
    try:
        return _get_unchecked(message, field, hint)
    except _Undecodable:
        raise
    except ValueError:
        bare = _split_optional(hint)[0]
        raise _Undecodable(uuid.UUID in (bare, _item_hint(bare))) from None


def _get_unchecked(message: Message, field: FieldDescriptor, hint: Any) -> Any:
    hint, nullable = _split_optional(hint)
    if field.is_repeated:
        container = getattr(message, field.name)
        if nullable and not container:
            return None
        item_hint = _item_hint(hint)
        items = [
            _read(item, item_hint) if field.message_type is not None else _from_scalar(item, item_hint)
            for item in container
        ]
        origin = typing.get_origin(hint)
        return origin(items) if origin in (tuple, set, frozenset) else items
    if nullable and field.has_presence and not message.HasField(field.name):
        return None
    if field.message_type is not None:
        if _is_list_wrapper(field, hint):
            return _get(getattr(message, field.name), field.message_type.fields[0], hint)
        return _read(getattr(message, field.name), hint)
    return _from_scalar(getattr(message, field.name), hint)


def _from_scalar(value: Any, hint: Any) -> Any:
    if hint is uuid.UUID:
        return uuid.UUID(value)
    if hint is dict or typing.get_origin(hint) is dict:
        return json.loads(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    return value


def _get_result(message: Message, hint: Any) -> Any:
    oneof = message.DESCRIPTOR.oneofs_by_name.get("result")
    if oneof is None:
        result = message.DESCRIPTOR.fields_by_name.get("result")
        if result is None:
            return _read(message, _split_optional(hint)[0])
        return _get(message, result, hint)
    chosen = message.WhichOneof("result")
    if chosen is None:
        return None
    field = message.DESCRIPTOR.fields_by_name[chosen]
    by_name = {member.__name__: member for member in _members(_split_optional(hint)[0])}
    return _read(getattr(message, chosen), by_name[field.message_type.name])


# --- methods ---------------------------------------------------------------------------------------


def _raw(message: Message, field: FieldDescriptor) -> Any:
    """A field's value as protobuf holds it (a list for a repeated field or a list wrapper)."""
    value = getattr(message, field.name)
    if field.is_repeated:
        return list(value)
    if field.message_type is not None and len(field.message_type.fields) == 1:
        return list(getattr(value, field.message_type.fields[0].name))
    return value


def rpc_name(method: str) -> str:
    """`create_client` -> `CreateClient`."""
    return "".join(part[:1].upper() + part[1:] for part in method.split("_"))


@dataclasses.dataclass(frozen=True)
class _Method:
    name: str
    rpc: str
    signature: inspect.Signature  # with self
    params: dict[str, Any]  # keyword parameter -> hint
    defaults: frozenset[str]  # the parameters that have a default
    returns: Any
    request: type[Message]
    response: type[Message]

    def encode_request(self, arguments: dict[str, Any], invalid: type[DomainError]) -> Message:
        message = self.request()
        for field in self.request.DESCRIPTOR.fields:
            try:
                _set(message, field, arguments[field.name], self.params[field.name])
            except _NaiveTime:
                name = field.name
                raise invalid(f"{name} needs a time zone.", details={name: ["Give a time zone."]}) from None
        return message

    def decode_request(self, message: Message, invalid: type[DomainError], lenient: bool) -> dict[str, Any]:
        """Keyword arguments; an `optional` field left unset is left out when the parameter has a
        default (the interface's default applies, as for a caller in process). A value that does
        not decode is `invalid` naming the parameter, or, `lenient`, handed over as it came (for an
        implementation that validates such values itself, so both transports refuse alike)."""
        arguments = {}
        for field in message.DESCRIPTOR.fields:
            if (
                field.has_presence
                and not field.is_repeated
                and not message.HasField(field.name)
                and field.name in self.defaults
            ):
                continue
            try:
                arguments[field.name] = _get(message, field, self.params[field.name])
            except _Undecodable as exc:
                if lenient:
                    arguments[field.name] = _raw(message, field)
                    continue
                name = field.name
                if exc.uuid_expected:
                    raise invalid(f"{name} is not a valid UUID.", details={name: ["Must be a UUID."]}) from None
                raise invalid(f"{name} is not valid.", details={name: ["Not a valid value."]}) from None
        return arguments

    def encode_response(self, value: Any) -> Message:
        message = self.response()
        if self.returns is not type(None):
            _set_result(message, value, self.returns)
        return message

    def decode_response(self, message: Message) -> Any:
        if self.returns is type(None):
            return None
        return _get_result(message, self.returns)


def _shape_problems(message: Any, hint: Any, path: str) -> list[str]:
    """What of a message descriptor does not fit the dataclass (or fixed tuple) `hint`."""
    if message.full_name == TIMESTAMP:
        return [] if hint is datetime else [f"{path}: a Timestamp for {hint}"]
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if len(args) != len(message.fields):
            return [f"{path}: {len(message.fields)} fields for {hint}"]
        return [p for field, arg in zip(message.fields, args, strict=True) for p in _field_problems(field, arg, path)]
    if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
        return [f"{path}: message {message.name} for {hint}"]
    hints = _hints_of(hint)
    names = {field.name for field in message.fields}
    required = {
        f.name
        for f in dataclasses.fields(hint)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    problems = [f"{path}.{name}: not a field of {hint.__name__}" for name in sorted(names - set(hints))]
    problems += [f"{path}: {hint.__name__}.{name} has no field in {message.name}" for name in sorted(required - names)]
    for field in message.fields:
        if field.name in hints:
            problems += _field_problems(field, hints[field.name], f"{path}.{field.name}")
    return problems


def _is_list_wrapper(field: FieldDescriptor, hint: Any) -> bool:
    """A message of one repeated field standing for a sequence (`StringList`): unlike a bare
    `repeated`, it tells None (unset) from empty (set, no items)."""
    fields = field.message_type.fields
    return _item_hint(hint) is not None and len(fields) == 1 and fields[0].is_repeated


def _field_problems(field: FieldDescriptor, hint: Any, path: str) -> list[str]:
    bare, _ = _split_optional(hint)
    if field.message_type is not None and not field.is_repeated and _is_list_wrapper(field, bare):
        return _field_problems(field.message_type.fields[0], bare, path)
    if field.is_repeated:
        item = _item_hint(bare)
        if item is None:
            return [f"{path}: repeated for {hint}"]
        return _shape_problems(field.message_type, item, path) if field.message_type is not None else []
    if field.message_type is not None:
        if len(_members(bare)) > 1:
            return []  # a union travels in a oneof, checked where it is encoded
        return _shape_problems(field.message_type, bare, path)
    if _item_hint(bare) is not None or dataclasses.is_dataclass(bare):
        return [f"{path}: a scalar for {hint}"]
    return []


def _response_problems(rpc: str, response: type[Message], returns: Any) -> list[str]:
    fields = set(response.DESCRIPTOR.fields_by_name)
    if returns is type(None):
        return [f"{rpc}Response: fields {sorted(fields)} for a method returning None"] if fields else []
    if "result" in fields or "result" in response.DESCRIPTOR.oneofs_by_name:
        return []
    bare = _split_optional(returns)[0]
    if dataclasses.is_dataclass(bare) and fields == {f.name for f in dataclasses.fields(bare)}:
        return _shape_problems(response.DESCRIPTOR, bare, f"{rpc}Response")
    return [f"{rpc}Response: no `result`, and its fields {sorted(fields)} are not those of {returns}"]


def _methods(protocol: type, pb_module: Any, service: str) -> list[_Method]:
    """Every public method of `protocol`, checked against the `.proto`'s service `service`."""
    descriptor = pb_module.DESCRIPTOR.services_by_name[service]
    found, problems = [], []
    names = [name for name, member in vars(protocol).items() if not name.startswith("_") and inspect.isfunction(member)]
    for name in names:
        function = getattr(protocol, name)
        rpc = rpc_name(name)
        hints = typing.get_type_hints(function)
        returns = hints.pop("return", type(None))
        returns = type(None) if returns is None else returns
        signature = inspect.signature(function)
        params = {p.name: hints[p.name] for p in list(signature.parameters.values())[1:]}
        if rpc not in descriptor.methods_by_name:
            problems.append(f"{name}: no rpc {rpc} in {descriptor.full_name}")
            continue
        request = getattr(pb_module, f"{rpc}Request", None)
        response = getattr(pb_module, f"{rpc}Response", None)
        if request is None or response is None:
            problems.append(f"{name}: {rpc}Request/{rpc}Response missing")
            continue
        fields = set(request.DESCRIPTOR.fields_by_name)
        if fields != set(params):
            problems.append(f"{rpc}Request: fields {sorted(fields)} != parameters {sorted(params)}")
        for field in request.DESCRIPTOR.fields:
            if field.name in params:
                problems += _field_problems(field, params[field.name], f"{rpc}Request.{field.name}")
        result = response.DESCRIPTOR.fields_by_name.get("result")
        if result is not None:
            problems += _field_problems(result, returns, f"{rpc}Response.result")
        problems += _response_problems(rpc, response, returns)
        defaults = frozenset(p.name for p in signature.parameters.values() if p.default is not inspect.Parameter.empty)
        found.append(_Method(name, rpc, signature, params, defaults, returns, request, response))
    extra = set(descriptor.methods_by_name) - {rpc_name(name) for name in names}
    if extra:
        problems.append(f"rpcs with no method in {protocol.__name__}: {sorted(extra)}")
    if problems:
        raise ContractMismatch(f"{protocol.__name__} vs {descriptor.full_name}: " + "; ".join(problems))
    return found


def remote_client(
    protocol: type, pb_module: Any, grpc_module: Any, service: str, *, invalid: type[DomainError] = InvalidArgument
) -> type:
    """A class implementing `protocol` by calling the gRPC service `service` at a target:
    `remote_client(...)(target="host:port")`. A value that cannot be sent (a datetime without a
    time zone) raises `invalid`, the service's own validation error."""
    stub = getattr(grpc_module, f"{service}Stub")

    def __init__(self: Any, *, target: str) -> None:
        self._rpc = ServiceClient(target, stub)

    def __repr__(self: Any) -> str:
        return f"{type(self).__name__}(target={self._rpc.target!r})"

    def target(self: Any) -> str:
        return str(self._rpc.target)

    attributes: dict[str, Any] = {"__init__": __init__, "__repr__": __repr__, "target": property(target)}
    for method in _methods(protocol, pb_module, service):
        attributes[method.name] = _client_method(method, invalid)
    return type(f"Grpc{protocol.__name__}", (), attributes)


def _client_method(method: _Method, invalid: type[DomainError]) -> Callable[..., Any]:
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = method.signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop(next(iter(method.signature.parameters)))
        return method.decode_response(self._rpc.call(method.rpc, method.encode_request(arguments, invalid)))

    call.__name__ = call.__qualname__ = method.name
    call.__signature__ = method.signature  # type: ignore[attr-defined]
    call.__annotations__ = {**method.params, "return": method.returns}  # the Protocol's, resolved
    return call


def servicer(
    protocol: type,
    impl: object,
    pb_module: Any,
    grpc_module: Any,
    service: str,
    *,
    invalid: type[DomainError] = InvalidArgument,
    lenient: Collection[str] = (),
) -> Any:
    """The servicer of `service` answering with `impl`; errors are raised as they are (the
    interceptors turn them into statuses). A request value that does not decode is `invalid`,
    or, for the methods named in `lenient`, handed to `impl` as it came (see
    `_Method.decode_request`)."""
    base = getattr(grpc_module, f"{service}Servicer")
    methods = _methods(protocol, pb_module, service)
    if unknown := set(lenient) - {method.name for method in methods}:
        # A renamed method would otherwise lose its leniency without a word.
        raise ContractMismatch(f"{service}: lenient names no method of {protocol.__name__}: {sorted(unknown)}")
    attributes = {method.rpc: _server_method(method, impl, invalid, method.name in lenient) for method in methods}
    return type(f"{service}Servicer", (base,), attributes)()


def _server_method(method: _Method, impl: object, invalid: type[DomainError], lenient: bool) -> Callable[..., Any]:
    target = getattr(impl, method.name)

    def handle(self: Any, request: Message, context: Any) -> Message:
        return method.encode_response(target(**method.decode_request(request, invalid, lenient)))

    handle.__name__ = method.rpc
    return handle
