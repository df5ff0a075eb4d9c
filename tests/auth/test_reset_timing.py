"""Issue 15 item 11: a password reset takes the same time for a known and an unknown address.
Embedded mode used to render and send the known address's mail inside the request (68 ms against
52 ms in the review). Now the request does the same database work either way and the mail is made
after the answer, off the request (project/events/outbox.py, `off_request`); with a broker it
always left from a worker."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from project.events.relay import _off_request, wait_off_request
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
RESET = "/api/v1/auth/password/reset"


def test_a_reset_answers_before_its_mail_with_the_same_work_for_a_known_and_an_unknown_address(
    client, settings, in_process_tasks
):
    settings.GATEHOUSE_EVENTS_OFF_REQUEST = True  # as deployed (the suite turns it off)
    UserFactory(email="ada@example.com")
    wait_off_request()
    mail.outbox.clear()
    hold = threading.Event()
    _off_request().submit(hold.wait, 10)  # the background thread is busy: what it gets, waits
    try:
        with CaptureQueriesContext(connection) as known:
            assert client.post(RESET, {"email": "ada@example.com"}, content_type="application/json").status_code == 202
        assert mail.outbox == []  # the request did not make or send the mail
        with CaptureQueriesContext(connection) as unknown:
            assert (
                client.post(RESET, {"email": "nobody@example.com"}, content_type="application/json").status_code == 202
            )
    finally:
        hold.set()
    wait_off_request()
    assert [m.subject for m in mail.outbox] == ["Reset your password"]
    assert mail.outbox[0].to == ["ada@example.com"]
    # The same statements in the request either way (the values differ, not the work).
    assert len(known.captured_queries) == len(unknown.captured_queries), (
        [q["sql"][:60] for q in known.captured_queries],
        [q["sql"][:60] for q in unknown.captured_queries],
    )
