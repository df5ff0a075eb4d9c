from drf_spectacular.openapi import AutoSchema


class GatehouseAutoSchema(AutoSchema):
    """Names the per-API nested serializers after their API (`TokenApi.InputSerializer` →
    `TokenInputRequest`): every API class has its own `InputSerializer`, as the style guide wants,
    and the schema needs one component name for each."""

    def get_serializer_name(self, serializer, direction):
        name = super().get_serializer_name(serializer, direction)
        qualname = type(serializer).__qualname__
        if "." in qualname:
            name = qualname.split(".")[0].removesuffix("Api") + name
        return name
