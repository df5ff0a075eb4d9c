"""Which implementation of a core service `AppConfig.ready()` installs behind its interface: the
gRPC client when settings name a target for the service (`<SERVICE>_GRPC_TARGET`), else the
in-process one (docs/architecture.md, "Delegation")."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from project.kernel.delegation import provide


def provide_local_or_grpc(name: str, interface: type, *, local: str, grpc: str, served_by: str = "") -> None:
    """Install `grpc`, made with the target of the service `served_by` (default: `name`), when it
    has one; else `local`. Both are dotted paths to a class, imported only when chosen: a process
    that reaches the service over gRPC never loads its models."""
    target = settings.GATEHOUSE_GRPC_TARGETS[served_by or name]
    implementation = import_string(grpc)(target=target) if target else import_string(local)()
    provide(name, implementation, interface=interface)
