"""Every pattern that validates outside input matches the whole string: `$` also matches before a
final newline, so a value with a trailing line break once passed (issue 15, item 15)."""

import pytest

from gateway.nginx import _check_servers
from permissions.interface import InvalidScope, declare_permissions, normalise_scope
from project.kernel.context import sane_request_id


def test_a_request_id_with_a_trailing_newline_is_not_echoed():
    assert sane_request_id("abc-123_trace.9") == "abc-123_trace.9"
    assert sane_request_id("abc-123_trace.9\n") is None


def test_an_nginx_upstream_with_a_trailing_newline_is_refused():
    _check_servers("web", ["127.0.0.1:8000"])
    with pytest.raises(ValueError):
        _check_servers("web", ["127.0.0.1:8000\n"])


def test_a_scope_whose_last_inner_segment_ends_in_a_newline_is_refused():
    with pytest.raises(InvalidScope):
        normalise_scope("org:acme\n/project:1")


def test_a_permission_code_with_a_trailing_newline_cannot_be_declared():
    with pytest.raises(ValueError):
        declare_permissions("probe", {"probe.thing.view\n": "a typo'd code"})
