"""The same failing call raises equal errors — same class, code, message and details — whether
the implementation is in process or across gRPC."""

import uuid

import pytest

from users.interface import UserService

STRONG = "a-Long-unguessable-passphrase-42"
TAKEN = "taken@example.com"
MISSING = uuid.UUID("00000000-0000-4000-8000-000000000000")

FAILING_CALLS = {
    "weak password": lambda users: users.create_user(email="new@example.com", password="password"),
    "password like the email": lambda users: users.create_user(
        email="new.person@example.com", password="new.person@example.com"
    ),
    "invalid email": lambda users: users.create_user(email="not an email"),
    "email taken": lambda users: users.create_user(email=TAKEN.upper()),
    "long display name": lambda users: users.create_user(email="new@example.com", display_name="x" * 151),
    "unknown id": lambda users: users.get_user(user_id=MISSING),
    "unknown email": lambda users: users.get_user_by_email(email="nobody@example.com"),
    "bad cursor": lambda users: users.list_users(cursor="bad"),
    "bad limit": lambda users: users.list_users(limit=0),
    "update unknown": lambda users: users.update_user(user_id=MISSING, email="x@example.com"),
    "update to taken email": lambda users: users.update_user(
        user_id=users.get_user_by_email(email="other@example.com").id, email=TAKEN
    ),
    "deactivate unknown": lambda users: users.deactivate_user(user_id=MISSING),
    "reactivate unknown": lambda users: users.reactivate_user(user_id=MISSING),
}


def _raised(call, users: UserService) -> Exception:
    with pytest.raises(Exception) as caught:
        call(users)
    return caught.value


@pytest.mark.parametrize("call", FAILING_CALLS.values(), ids=FAILING_CALLS.keys())
def test_a_failing_call_raises_equal_errors_in_process_and_over_grpc(both, call):
    local, remote = both
    local.create_user(email=TAKEN, password=STRONG)
    local.create_user(email="other@example.com")
    local_error, remote_error = _raised(call, local), _raised(call, remote)
    assert type(remote_error) is type(local_error)
    assert remote_error == local_error
    assert (remote_error.code, remote_error.message, remote_error.details) == (
        local_error.code,
        local_error.message,
        local_error.details,
    )
