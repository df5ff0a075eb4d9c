"""UserService.list_users, against both implementations (see conftest)."""

import pytest

from users.interface import InvalidUserInput, UserPage


def make(users, *names, **fields):
    return [users.create_user(email=f"{name}@example.com", display_name=name.title(), **fields) for name in names]


def test_users_are_listed_newest_first(users):
    ada, grace, linus = make(users, "ada", "grace", "linus")
    page = users.list_users()
    assert isinstance(page, UserPage)
    assert page.results == (linus, grace, ada)
    assert page.next is None


def test_an_empty_directory_lists_an_empty_last_page(users):
    assert users.list_users() == UserPage(results=(), next=None)


def test_search_matches_a_substring_of_the_email_or_the_display_name_in_any_case(users):
    ada, grace = make(users, "ada", "grace")
    hopper = users.create_user(email="gh@navy.example", display_name="Grace Hopper")
    assert users.list_users(search="ADA").results == (ada,)
    assert users.list_users(search="grace").results == (hopper, grace)
    assert users.list_users(search="navy").results == (hopper,)
    assert users.list_users(search="nobody").results == ()


def test_users_are_filtered_on_is_active(users):
    ada, grace, linus = make(users, "ada", "grace", "linus")
    users.deactivate_user(user_id=grace.id)
    assert [user.id for user in users.list_users(is_active=True).results] == [linus.id, ada.id]
    assert [user.id for user in users.list_users(is_active=False).results] == [grace.id]
    assert len(users.list_users(is_active=None).results) == 3


def test_the_cursor_pages_through_every_user_exactly_once_in_order(users):
    created = make(users, *(f"user{i}" for i in range(11)))
    seen, cursor, pages = [], None, 0
    while True:
        page = users.list_users(limit=3, cursor=cursor)
        pages += 1
        assert len(page.results) <= 3
        seen.extend(page.results)
        if page.next is None:
            break
        cursor = page.next
    assert pages == 4
    assert seen == list(reversed(created))


def test_the_cursor_keeps_the_filters_of_its_first_page(users):
    make(users, "ada", "adam", "adele", "grace", "adrian")
    first = users.list_users(search="ad", limit=3)
    second = users.list_users(search="ad", limit=3, cursor=first.next)
    emails = [user.email for page in (first, second) for user in page.results]
    assert emails == ["adrian@example.com", "adele@example.com", "adam@example.com", "ada@example.com"]
    assert second.next is None


def test_a_page_exactly_as_long_as_what_is_left_is_the_last(users):
    make(users, "ada", "grace")
    assert users.list_users(limit=2).next is None


@pytest.mark.parametrize("cursor", ["garbage", "!!!", "W10", "eyJhIjogMX0"])
def test_a_bad_cursor_is_refused(users, cursor):
    with pytest.raises(InvalidUserInput) as caught:
        users.list_users(cursor=cursor)
    assert caught.value == InvalidUserInput("The cursor is not valid.", details={"cursor": ["Invalid cursor."]})


@pytest.mark.parametrize("limit", [0, -1, 201, 10**12, -(10**12)])
def test_a_limit_outside_1_to_200_is_refused(users, limit):
    with pytest.raises(InvalidUserInput) as caught:
        users.list_users(limit=limit)
    assert caught.value == InvalidUserInput("limit must be between 1 and 200.", details={"limit": ["Must be 1..200."]})


@pytest.mark.parametrize("limit", [1, 200])
def test_the_limits_1_and_200_are_accepted(users, limit):
    make(users, "ada", "grace")
    assert len(users.list_users(limit=limit).results) == min(limit, 2)
