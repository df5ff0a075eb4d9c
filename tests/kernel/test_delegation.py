from typing import Protocol

import pytest

from project.kernel.delegation import SignatureMismatch, check_implements, delegate, provide
from project.rpc.delegation import provide_local_or_grpc


class Greeter(Protocol):
    def greet(self, *, name: str, loud: bool = False) -> str: ...


class GoodGreeter:
    def greet(self, *, name: str, loud: bool = False) -> str:
        return name.upper() if loud else name


class PositionalGreeter:
    def greet(self, name: str, loud: bool = False) -> str:
        return name


class DefaultDriftGreeter:
    def greet(self, *, name: str, loud: bool = True) -> str:
        return name


class MissingGreeter:
    pass


class RemoteGreeter:
    def __init__(self, *, target: str):
        self.target = target

    def greet(self, *, name: str, loud: bool = False) -> str:
        return f"{name} via {self.target}"


def test_an_implementation_with_the_same_signatures_is_accepted():
    check_implements(Greeter, GoodGreeter())


@pytest.mark.parametrize("impl", [PositionalGreeter(), DefaultDriftGreeter(), MissingGreeter()])
def test_an_implementation_whose_signatures_drift_is_refused_at_start_up(impl):
    with pytest.raises(SignatureMismatch):
        check_implements(Greeter, impl)


def test_a_delegate_forwards_to_whatever_was_provided_last():
    greeter = delegate("test-greeter", Greeter)
    provide("test-greeter", GoodGreeter(), interface=Greeter)
    assert greeter.greet(name="ada", loud=True) == "ADA"


@pytest.mark.parametrize(("target", "answer"), [(None, "ada"), ("", "ada"), ("greeter:50051", "ada via greeter:50051")])
def test_the_configured_target_picks_the_grpc_client_and_none_the_local_implementation(settings, target, answer):
    settings.GATEHOUSE_GRPC_TARGETS = {**settings.GATEHOUSE_GRPC_TARGETS, "test-greeter-service": target}
    greeter = delegate("test-configured-greeter", Greeter)
    provide_local_or_grpc(
        "test-configured-greeter",
        Greeter,
        local=f"{__name__}.GoodGreeter",
        grpc=f"{__name__}.RemoteGreeter",
        served_by="test-greeter-service",
    )
    assert greeter.greet(name="ada") == answer


def test_a_configured_implementation_whose_signatures_drift_is_refused_too(settings):
    settings.GATEHOUSE_GRPC_TARGETS = {**settings.GATEHOUSE_GRPC_TARGETS, "test-drifting-greeter": None}
    with pytest.raises(SignatureMismatch):
        provide_local_or_grpc(
            "test-drifting-greeter", Greeter, local=f"{__name__}.PositionalGreeter", grpc=f"{__name__}.RemoteGreeter"
        )


def test_the_users_service_installed_in_process_satisfies_its_interface():
    from users.interface import UserService, user_service
    from users.local import LocalUserService

    assert isinstance(user_service.__getattr__("get_user").__self__, LocalUserService)
    check_implements(UserService, LocalUserService())
