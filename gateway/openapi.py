from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from .routes import APP_SERVICES

# Every operation under /api/ may answer these with the error envelope (docs/api.md):
# validation (400), authentication (401), authorisation (403), unknown or invisible object (404),
# a method the path does not have (405), an Accept it cannot serve (406), a conflict (409), an
# oversized body (413, at the edge), a wrong content type (415) and the rate limit (429).
ERROR_RESPONSES = {
    "400": "The request is not valid: `details` holds the problems per field.",
    "401": "Not authenticated: no, an invalid, an expired or a revoked access token.",
    "403": "Authenticated, but not allowed.",
    "404": "Not found, or not visible to the caller.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflict with the current state.",
    "413": "The request body is too large.",
    "415": "Unsupported media type.",
    "429": "Rate limited: retry after `Retry-After` seconds.",
}


# A string that is not only whitespace. DRF trims request strings (trim_whitespace) and then
# refuses a blank one; Python's str.strip() also drops \x1c-\x1f and \x85, which ECMA's \s lacks.
NOT_ONLY_WHITESPACE = r"[^\s\x1c-\x1f\x85]"


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable error code.")
    message = serializers.CharField(help_text="Human-readable message.")
    details = serializers.DictField(help_text="Per-field problems or other details.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class GatehouseAutoSchema(AutoSchema):
    """Names the per-API nested serializers after their API (`TokenApi.InputSerializer` →
    `TokenInputRequest`): every API class has its own `InputSerializer`, as the style guide wants,
    and the schema needs one component name for each. Documents the error envelope on every
    operation, so a client (or a schema-driven fuzzer) knows every status it may receive."""

    def get_serializer_name(self, serializer, direction):
        name = super().get_serializer_name(serializer, direction)
        qualname = type(serializer).__qualname__
        if "." in qualname:
            name = qualname.split(".")[0].removesuffix("Api") + name
        return name

    def get_tags(self):
        # By app service (gateway/routes.py), not the path's first segment (which made all of them `v1`).
        for service in APP_SERVICES:
            for prefix, tag in service.doc_tags:
                if self.path.startswith(prefix):
                    return [tag]
        return super().get_tags()

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        for parameter in (operation or {}).get("parameters", []):
            schema = parameter.get("schema", {})
            if parameter.get("in") != "query" or parameter.get("required"):
                continue
            # DRF reads an empty optional query value (`?cursor=`) as an absent one: say so.
            if schema.get("minLength") == 1:
                del schema["minLength"]
            if schema.get("pattern") == NOT_ONLY_WHITESPACE:
                schema["pattern"] = f"^$|{NOT_ONLY_WHITESPACE}"
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and field.trim_whitespace
            and not field.allow_blank
            and schema.get("type") == "string"
            and not {"pattern", "format", "enum"} & set(schema)
        ):
            schema["pattern"] = NOT_ONLY_WHITESPACE
        return schema

    def _get_request_body(self, direction="request"):
        # A DELETE that needs a body (disabling TOTP with a code, removing a group member) declares
        # it with extend_schema(request=...): document it like any other body (drf-spectacular
        # leaves DELETE bodies out).
        if self.method == "DELETE" and self._declared_request() is not None:
            self.method = "POST"
            try:
                return super()._get_request_body(direction)
            finally:
                self.method = "DELETE"
        return super()._get_request_body(direction)

    def _declared_request(self):
        # Only what extend_schema declares: the fallback guess would log an error for every
        # DELETE view without a serializer.
        self._get_serializer = lambda: None
        try:
            return self.get_request_serializer()
        finally:
            del self._get_serializer

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in ERROR_RESPONSES.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                responses[code]["description"] = description
        return responses


def tag_app_services(result, generator, request, public):
    """Postprocessing hook: the docs list their tags in the route table's order, each naming its app
    service (drf-spectacular would list them by their first path, without a word)."""
    used = {tag for operations in result.get("paths", {}).values() for op in operations.values() for tag in op["tags"]}
    tags: list[dict] = []
    for service in APP_SERVICES:
        for _, tag in service.doc_tags:
            if tag in used and tag not in [known["name"] for known in tags]:
                tags.append({"name": tag, "description": f"App service: {service.title}"})
    result["tags"] = tags
    return result
