"""Scopes are paths of type:id segments; an assignment on a prefix holds below it, segment-wise."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from permissions.interface import InvalidScope, normalise_scope, scope_prefixes


@pytest.mark.parametrize("scope", [None, "", "/", "  "])
def test_empty_scopes_are_the_global_scope(scope):
    assert normalise_scope(scope) is None


def test_a_scope_loses_outer_slashes():
    assert normalise_scope("/org:acme/project:42/") == "org:acme/project:42"


@pytest.mark.parametrize(
    "scope", ["org", "org:", ":acme", "org:acme//project:1", "Org:acme", "org:ac me", "org:acme/x", "o:" + "a" * 600]
)
def test_a_malformed_scope_is_invalid(scope):
    with pytest.raises(InvalidScope) as caught:
        normalise_scope(scope)
    assert "scope" in caught.value.details


def test_prefixes_are_segment_wise_outermost_first():
    assert scope_prefixes("org:acme/project:42") == ("", "org:acme", "org:acme/project:42")
    assert scope_prefixes(None) == ("",)
    assert "org:acme" not in scope_prefixes("org:acmex/project:1")


@pytest.mark.parametrize("scope", ["org:acme\n/project:42", "org:acme/project:42\n/x:1", "org:acme\n\n/p:1"])
def test_a_segment_with_a_line_break_inside_the_scope_is_invalid(scope):
    # `$` matches before a final newline: a segment "org:acme\n" once passed validation.
    with pytest.raises(InvalidScope):
        normalise_scope(scope)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4))
def test_every_accepted_scope_is_made_of_whole_type_id_segments(segments):
    scope = "/".join(segments)
    try:
        normalised = normalise_scope(scope)
    except InvalidScope:
        return
    if normalised is None:
        return
    for segment in normalised.split("/"):
        kind, _, ident = segment.partition(":")
        assert kind and ident and kind[0].isascii() and kind[0].islower()
        assert all(c.isascii() and (c.isalnum() or c in "_.@-") for c in ident), repr(segment)
        assert all(c.isascii() and (c.isalnum() or c in "_-") for c in kind), repr(segment)
