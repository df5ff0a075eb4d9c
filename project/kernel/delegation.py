"""Which implementation of a service interface a caller gets: local or remote, by configuration.

An interface module declares `user_service = delegate("users", UserService)`. The app's
`AppConfig.ready()` later installs the local implementation or the gRPC client, chosen from
settings (`USERS_GRPC_TARGET`) by `project.rpc.delegation.provide_local_or_grpc`, the way
`EMAIL_BACKEND` picks a mail backend. `provide` checks at start-up that the implementation's method
signatures match the Protocol.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, TypeVar

T = TypeVar("T")

_providers: dict[str, Any] = {}


class ServiceNotProvided(RuntimeError):
    pass


class SignatureMismatch(TypeError):
    pass


def _public_methods(protocol: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in vars(protocol).items()
        if not name.startswith("_") and inspect.isfunction(member)
    }


def _annotation_drift(expected: Any, actual: Any) -> str:
    """The annotations `actual` gives differently from `expected` (each resolved in its own module:
    `uuid.UUID` and `UUID` are the same type); an implementation that leaves one out says nothing."""
    try:
        want = typing.get_type_hints(expected)
        have = typing.get_type_hints(actual)
    except Exception:  # an annotation this process cannot resolve: the names were checked
        return ""
    return ", ".join(
        f"{key}: {have[key]!r} instead of {want[key]!r}" for key in want if key in have and have[key] != want[key]
    )


def check_implements(protocol: type, impl: object) -> None:
    """Raise SignatureMismatch unless `impl` has every method of `protocol` with the same signature."""
    problems = []
    for name, method in _public_methods(protocol).items():
        candidate = getattr(impl, name, None)
        if candidate is None or not callable(candidate):
            problems.append(f"{name}: missing")
            continue
        expected = inspect.signature(method)
        expected = expected.replace(parameters=list(expected.parameters.values())[1:])  # drop self
        actual = inspect.signature(candidate)
        if [(p.name, p.kind, p.default) for p in expected.parameters.values()] != [
            (p.name, p.kind, p.default) for p in actual.parameters.values()
        ]:
            problems.append(f"{name}: expected {expected}, got {actual}")
            continue
        drifted = _annotation_drift(method, candidate)
        if drifted:
            problems.append(f"{name}: annotations differ: {drifted}")
    if problems:
        raise SignatureMismatch(f"{type(impl).__name__} does not implement {protocol.__name__}: " + "; ".join(problems))


def provide(name: str, impl: object, *, interface: type) -> None:
    """Install `impl` as the implementation behind the `name` service (called from AppConfig.ready)."""
    check_implements(interface, impl)
    _providers[name] = impl


def provided(name: str) -> Any:
    try:
        return _providers[name]
    except KeyError:
        raise ServiceNotProvided(
            f"no implementation of the {name!r} service is installed (is its app in INSTALLED_APPS?)"
        ) from None


class _Delegate:
    """A stand-in that forwards every attribute to whatever implementation is installed now."""

    __slots__ = ("_interface", "_name")

    def __init__(self, name: str, interface: type):
        self._name = name
        self._interface = interface

    def __getattr__(self, attr: str) -> Any:
        # On every call through the interface (a warm permission check is ~2 µs): no extra frame.
        impl = _providers.get(self._name)
        return getattr(impl if impl is not None else provided(self._name), attr)

    def __repr__(self) -> str:
        return f"<{self._interface.__name__} delegate -> {_providers.get(self._name)!r}>"


def delegate(name: str, interface: Any) -> Any:
    """A module-level object that calls the configured implementation of `interface` (a Protocol,
    which type checkers will not take as a `type[T]`): annotate the variable it is assigned to,
    `user_service: UserService = delegate("users", UserService)`."""
    return _Delegate(name, interface)
