from django.contrib.auth.hashers import Argon2PasswordHasher

from project import tracing


class GatehouseArgon2Hasher(Argon2PasswordHasher):
    """Argon2id at the OWASP minimum (19 MiB, t=2, p=1): about 40 ms a verify on this 2-core
    machine (docs/auth.md), which keeps a login cheap for us and an offline guess dear for an
    attacker. Hashes made with other parameters are upgraded at the next successful login."""

    algorithm = "argon2"  # the same name: Django's own Argon2 hashes verify and upgrade in place
    time_cost = 2
    memory_cost = 19456  # KiB
    parallelism = 1

    def verify(self, password, encoded):
        # A span of its own: the verify is most of a sign-in's time (docs/operations.md, "Tracing").
        with tracing.span("argon2.verify"):
            return super().verify(password, encoded)
