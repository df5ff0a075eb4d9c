"""The API's one request parser: JSON, with every way a body can fail to be JSON answered as a 400."""

from __future__ import annotations

import json

from django.http.request import RawPostDataException
from rest_framework import negotiation, parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, plus: nesting too deep for Python's decoder (`[[[[…` a few thousand
    levels, well under the body-size limit) raises RecursionError, which DRF does not catch and
    which would be a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None


def json_body(request):
    """`request.data`, read straight from the body's bytes when it is plain JSON (issue 24: on the
    permission check, DRF's content negotiation and stream wrappers cost more than the parse).

    Only a body DRF would hand to the JSON parser (the content type is `application/json`, with
    any parameters) is read here, decoded with the charset DRF would use and parsed as the parser
    parses (`STRICT_JSON`). Whatever does not parse cleanly that way (no body, bad JSON, bad bytes,
    nesting too deep) is left to `request.data`, so it is answered exactly as before, error and
    all. The size limit holds the same: `request.body` raises RequestDataTooBig (413)."""
    if request.content_type.partition(";")[0].strip() == JSONParser.media_type:
        try:
            return loads(request.body, request.parser_context["encoding"])
        except (ValueError, RecursionError, RawPostDataException):
            pass
    return request.data


def loads(body: bytes, encoding: str):
    """JSON bytes parsed as JSONParser parses them (decoded with `encoding`, `STRICT_JSON`'s
    constants); raises ValueError or RecursionError for what it would refuse."""
    return json.loads(body.decode(encoding), parse_constant=strict_constant if JSONParser.strict else None)


class JsonNegotiation(negotiation.DefaultContentNegotiation):
    """DRF's content negotiation, answered at once for what nearly every API call sends: one
    renderer (JSON), no format override, and no `Accept` or one that names JSON or anything.
    DRF would pick the same renderer and media type after parsing the header (5 % of a permission
    check's in-process profile, issue 24); every other case (several renderers, as the schema
    view has, a `?format=`, any other `Accept`, a 406) is DRF's own."""

    FAST_ACCEPT = frozenset(("", "*/*", "application/json"))

    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            len(renderers) == 1
            and not format_suffix
            and request.META.get("HTTP_ACCEPT", "") in self.FAST_ACCEPT
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
