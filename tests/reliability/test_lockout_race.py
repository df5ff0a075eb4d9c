"""Issue 15 item 4: parallel guesses cannot beat the sign-in lockout. 20 concurrent wrong passwords
for one account against gunicorn with 4 worker processes x 4 threads: at most the limit of them
reach the password check (each that does leaves its failure), the limit is then spent one by one,
and then the right password is refused too."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from auth.models import LoginFailure
from tests.support.factories import PASSWORD

from .conftest import Web, new_user

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 5
UNLIMITED = {"GATEHOUSE_RATELIMIT_ANON": "1000000/min", "GATEHOUSE_RATELIMIT_USER": "1000000/min"}


def test_twenty_parallel_wrong_passwords_get_at_most_the_limit_of_checks(tmp_path):
    user = new_user()
    web = Web(
        "web",
        log_dir=tmp_path,
        gunicorn_args=("-w", "4", "--threads", "4", "-k", "gthread"),
        GATEHOUSE_LOGIN_MAX_FAILURES=str(LIMIT),
        GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP="1000",
        GATEHOUSE_TEST_REAL_HASHER="1",  # a real Argon2 verify: the window the race needs
        **UNLIMITED,
    )
    try:

        def guess(i: int) -> int:
            status, _ = web.call("POST", "/api/v1/auth/token", {"email": user.email, "password": f"wrong-guess-{i}"})
            return status

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(guess, range(20)))
        checked = statuses.count(401)
        print(f"20 parallel wrong passwords: {checked} checked (401), {statuses.count(429)} refused (429)")
        assert set(statuses) <= {401, 429}, statuses
        assert 1 <= checked <= LIMIT
        assert LoginFailure.objects.count() == checked  # one row per real check, none for the refused
        # An attempt refused in the race removes its row, so the burst may leave fewer than the limit
        # checked (a 5th writer that counted a 6th's row first is refused). The rest of the limit is
        # still there to spend, one by one, and not one more.
        later = [guess(100 + i) for i in range(LIMIT - checked + 1)]
        assert later == [401] * (LIMIT - checked) + [429], later
        assert LoginFailure.objects.count() == LIMIT
        status, body = web.call("POST", "/api/v1/auth/token", {"email": user.email, "password": PASSWORD})
        assert (status, body["error"]["code"]) == (429, "too_many_attempts")
    finally:
        web.stop()
