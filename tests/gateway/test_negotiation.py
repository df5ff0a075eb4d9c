"""gateway.parsers.JsonNegotiation answers as DRF's own negotiation does, for any request."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from gateway.parsers import JsonNegotiation

ACCEPT = st.one_of(
    st.sampled_from(
        [
            "",
            "*/*",
            "application/json",
            "text/html",
            "application/*",
            "application/json; indent=4",
            "text/html, */*;q=0.1",
            "application/xml",
            "*/*;q=0",
            "APPLICATION/JSON",
        ]
    ),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz/*;=,. 0123456789q", max_size=40),
)
QUERY = st.sampled_from(["", "format=json", "format=api", "format=xml", "x=1", "format="])
RENDERERS = st.sampled_from([[JSONRenderer()], [JSONRenderer(), BrowsableAPIRenderer()]])


def _answer(negotiation, request, renderers, suffix):
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
        return type(renderer), media_type
    except NotAcceptable:
        return "406"
    except Exception as exc:  # the same failure on both sides is what is compared
        return type(exc)


@given(accept=ACCEPT, query=QUERY, renderers=RENDERERS, suffix=st.sampled_from([None, "json", "api"]))
def test_it_picks_what_drf_picks(accept, query, renderers, suffix):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    request = Request(APIRequestFactory().get("/api/v1/users/me?" + query, **headers))
    assert _answer(JsonNegotiation(), request, renderers, suffix) == _answer(
        DefaultContentNegotiation(), request, renderers, suffix
    )


def test_a_json_request_takes_the_shortcut(monkeypatch):
    monkeypatch.setattr(DefaultContentNegotiation, "select_renderer", lambda *a: (_ for _ in ()).throw(AssertionError))
    request = Request(APIRequestFactory().get("/api/v1/users/me", HTTP_ACCEPT="application/json"))
    renderer, media_type = JsonNegotiation().select_renderer(request, [JSONRenderer()])
    assert isinstance(renderer, JSONRenderer) and media_type == "application/json"
