"""The API's one request parser: JSON, with every way a body can fail to be JSON answered as a 400."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, plus: nesting too deep for Python's decoder (`[[[[…` a few thousand
    levels, well under the body-size limit) raises RecursionError, which DRF does not catch and
    which would be a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
