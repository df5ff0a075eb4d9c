"""Scopes are paths of type:id segments; an assignment on a prefix holds below it, segment-wise."""

import pytest

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
