"""The route table (gateway/routes.py) is the one source of the public prefixes."""

from __future__ import annotations

import types

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from gateway import errors, routes, urls


def _paths(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _paths(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield "/" + route


@pytest.mark.parametrize("service", routes.APP_SERVICES, ids=lambda s: s.name)
def test_every_path_an_app_service_serves_lies_under_its_locations(service):
    served = list(_paths(urls.app_service_urls((service,))))
    assert served
    for path in served:
        assert path.startswith(service.locations), f"{path} is outside {service.name}'s locations"


def test_no_two_app_services_claim_the_same_prefix():
    locations = [(location, service.name) for service in routes.APP_SERVICES for location in service.locations]
    for location, owner in locations:
        for other, other_owner in locations:
            if owner != other_owner:
                assert not other.startswith(location), f"{other} ({other_owner}) lies under {location} ({owner})"


def test_the_monolith_mounts_every_app_service():
    every = set(_paths(get_resolver().url_patterns))
    for service in routes.APP_SERVICES:
        assert set(_paths(urls.app_service_urls((service,)))) <= every


def test_a_web_process_can_host_a_subset(settings):
    settings.GATEHOUSE_APP_SERVICES = ["rbac"]
    hosted = routes.hosted_app_services()
    assert [service.name for service in hosted] == ["rbac"]
    conf = types.ModuleType("subset_urls")
    conf.urlpatterns = [*urls.app_service_urls(hosted), *urls.urlpatterns[-1:]]
    assert resolve("/api/v1/rbac/roles", urlconf=conf).url_name == "rbac-roles"
    assert resolve("/api/v1/users/me", urlconf=conf).func is errors.api_not_found
    with pytest.raises(Resolver404):
        resolve("/nothing", urlconf=conf)


def test_an_unknown_app_service_is_a_configuration_error(settings):
    settings.GATEHOUSE_APP_SERVICES = ["rbac", "billing"]
    with pytest.raises(ImproperlyConfigured, match="billing"):
        routes.hosted_app_services()


_SAMPLES = {"uuid": "0b6f3c52-8a55-4b0e-9a8e-4f8f3c2d1e0a", "int": "7", "str": "x", "slug": "x", "path": "x/y"}


def _named_routes(patterns, prefix="", namespace=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _named_routes(pattern.url_patterns, route, inner)
        elif pattern.name and not route.startswith("^") and "(?P" not in route:
            yield namespace + pattern.name, route


def test_every_named_api_route_resolves_to_itself_in_the_mounted_order():
    """The mounts are tried longest prefix first (gateway.urls.app_service_urls): no route may
    shadow another, whatever the order."""
    import re

    from django.urls import reverse

    checked = 0
    for name, route in _named_routes(get_resolver().url_patterns):
        if name.startswith("admin:"):
            continue  # Django's own
        kwargs = {key: _SAMPLES[kind] for kind, key in re.findall(r"<(\w+):(\w+)>", route)}
        path = reverse(name, kwargs=kwargs)
        assert resolve(path).view_name == name, f"{path} resolves to {resolve(path).view_name}, not {name}"
        checked += 1
    assert checked > 60
