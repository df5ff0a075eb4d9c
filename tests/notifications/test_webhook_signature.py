"""The webhook signature: what Gatehouse signs, the receiver's documented check verifies, and
nothing else does (any body, any timestamp)."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from notifications.core.channels.webhook import webhook_signature

from .webhook_receiver import SECRET, verify


@given(body=st.binary(max_size=2000), timestamp=st.integers(min_value=0, max_value=2**40), flip=st.integers(0, 10**6))
def test_a_signature_verifies_only_the_exact_timestamp_and_body_it_was_made_for(body, timestamp, flip):
    signature = webhook_signature(SECRET, str(timestamp), body)
    headers = {"X-Gatehouse-Timestamp": str(timestamp), "X-Gatehouse-Signature": signature}

    assert verify(SECRET, headers, body, now=timestamp)
    assert not verify("another-secret", headers, body, now=timestamp)
    assert not verify(SECRET, headers, body, now=timestamp + 301)  # too old: a replay
    later = {**headers, "X-Gatehouse-Timestamp": str(timestamp + 1)}
    assert not verify(SECRET, later, body, now=timestamp)
    if body:
        index = flip % len(body)
        tampered = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        assert not verify(SECRET, headers, tampered, now=timestamp)
    else:
        assert not verify(SECRET, headers, b"{}", now=timestamp)


def test_the_signature_is_hmac_sha256_of_the_timestamp_a_dot_and_the_body():
    # A fixed vector, computed independently (`printf '1700000000.{}' | openssl dgst -sha256 -hmac key`).
    assert webhook_signature("key", "1700000000", b"{}") == (
        "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
    )


def test_the_receivers_snippet_in_the_docs_verifies_what_gatehouse_signs():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    section = docs.split("### Verifying a request (receivers)", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(snippet, "docs/notifications.md", "exec"), namespace)  # the docs snippet, as a receiver runs it
    body = b'{"delivery_id":"d","type":"announcement"}'
    timestamp = str(int(time.time()))
    headers = {"X-Gatehouse-Timestamp": timestamp, "X-Gatehouse-Signature": webhook_signature(SECRET, timestamp, body)}

    assert namespace["verify"](SECRET, headers, body)
    assert not namespace["verify"](SECRET, headers, body + b" ")
    assert not namespace["verify"]("another-secret", headers, body)
    stale = str(int(time.time()) - 3600)
    old = {"X-Gatehouse-Timestamp": stale, "X-Gatehouse-Signature": webhook_signature(SECRET, stale, body)}
    assert not namespace["verify"](SECRET, old, body)
