"""Arbitrary JSON at the write endpoints: a 2xx or a 400 with the error envelope, never a 500, and
a refused preferences payload changes nothing (embedded mode, Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications.core.types import TYPES
from notifications.interface import CHANNELS
from notifications.models import Preference as PreferenceModel
from permissions.interface import permission_service
from tests.support.factories import AssignmentFactory, RoleFactory
from tests.support.http import client_for

from .conftest import make_user
from .test_api import BASE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("embedded")]

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
)
entries = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from([*TYPES, "nope"]),
            "channel": st.sampled_from([*CHANNELS, "pigeon"]),
            "enabled": st.one_of(st.booleans(), scalars),
        }
    ),
    json_values,
)
preference_bodies = st.one_of(st.fixed_dictionaries({"preferences": st.lists(entries, max_size=12)}), json_values)


@pytest.fixture
def signed_in(embedded):
    user = make_user("fuzz@example.com")
    return user, client_for(user)


def stored(user_id):
    return sorted(PreferenceModel.objects.filter(user_id=user_id).values_list("type", "channel", "enabled"))


@SETTINGS
@given(body=preference_bodies)
def test_any_preferences_payload_is_applied_or_refused_whole(signed_in, body):
    user, api = signed_in
    before = stored(user.id)

    response = api.put(f"{BASE}/preferences", body, format="json")

    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert set(response.json()["error"]) == {"code", "message", "details"}
        assert stored(user.id) == before


send_bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["announcement", "welcome", "password_reset", "nope"]),
            "recipients": st.one_of(
                st.fixed_dictionaries({"user_ids": st.lists(st.uuids().map(str) | st.text(max_size=8), max_size=3)}),
                st.fixed_dictionaries({"role": st.text(max_size=12), "scope": st.text(max_size=20)}),
                json_values,
            ),
            "context": st.one_of(st.dictionaries(st.sampled_from(["subject", "body", "x"]), scalars), json_values),
        }
    ),
    json_values,
)


@SETTINGS
@given(body=send_bodies)
def test_any_send_payload_is_accepted_or_refused_with_the_envelope(signed_in, body):
    user, api = signed_in
    if not permission_service.check(user_id=user.id, permission="notifications.notification.send"):
        AssignmentFactory(
            role=RoleFactory(name="fuzz-notifier", permissions=["notifications.notification.send"]), user_id=user.id
        )

    response = api.post(f"{BASE}/send", body, format="json")

    assert response.status_code in (202, 400), response.content
    if response.status_code == 400:
        assert set(response.json()["error"]) == {"code", "message", "details"}
