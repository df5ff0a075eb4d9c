from typing import Protocol

import pytest

from project.kernel.delegation import SignatureMismatch, check_implements, delegate, provide


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


def test_the_users_service_installed_in_process_satisfies_its_interface():
    from users.interface import UserService, user_service
    from users.local import LocalUserService

    assert isinstance(user_service.__getattr__("get_user").__self__, LocalUserService)
    check_implements(UserService, LocalUserService())
