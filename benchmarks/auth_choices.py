"""The measurements behind two auth choices (docs/auth.md): the JWT signature algorithm and the
Argon2id parameters. Interleaved rounds, median of per-round figures, printed as ratios.

    .venv/bin/python -m benchmarks.auth_choices
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ROUNDS = 7


def per_call(fn, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def algorithms() -> None:
    keys = {
        "ES256": ec.generate_private_key(ec.SECP256R1()),
        "EdDSA": ed25519.Ed25519PrivateKey.generate(),
        "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "PS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }
    now = datetime.now(UTC)
    claims = {
        "iss": "i",
        "aud": "a",
        "sub": "s",
        "sid": "x",
        "jti": "j",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    }
    tokens = {alg: jwt.encode(claims, key, algorithm=alg) for alg, key in keys.items()}
    sign = {alg: [] for alg in keys}
    verify = {alg: [] for alg in keys}
    for _ in range(ROUNDS):
        for alg, key in keys.items():
            public = key.public_key()
            sign[alg].append(per_call(lambda key=key, alg=alg: jwt.encode(claims, key, algorithm=alg), 100))
            verify[alg].append(
                per_call(
                    lambda alg=alg, public=public: jwt.decode(
                        tokens[alg], public, algorithms=[alg], audience="a", issuer="i"
                    ),
                    400,
                )
            )
    base_verify = statistics.median(verify["RS256"])
    print(f"{'alg':6} {'sign µs':>9} {'verify µs':>10} {'verify / RS256':>15} {'token bytes':>12}")
    for alg in keys:
        s, v = statistics.median(sign[alg]) * 1e6, statistics.median(verify[alg]) * 1e6
        print(f"{alg:6} {s:9.0f} {v:10.0f} {v / (base_verify * 1e6):15.2f} {len(tokens[alg]):12d}")


def argon2_parameters() -> None:
    candidates = [(19456, 2), (12288, 3), (47104, 1), (65536, 3)]
    times = {c: [] for c in candidates}
    for _ in range(ROUNDS):
        for memory, t in candidates:
            hasher = PasswordHasher(time_cost=t, memory_cost=memory, parallelism=1)
            digest = hasher.hash("correct horse battery staple")
            times[(memory, t)].append(
                per_call(lambda hasher=hasher, digest=digest: hasher.verify(digest, "correct horse battery staple"), 5)
            )
    base = statistics.median(times[(19456, 2)])
    print(f"\n{'memory KiB':>10} {'t':>2} {'verify ms':>10} {'vs 19 MiB t=2':>14}")
    for c in candidates:
        m = statistics.median(times[c])
        print(f"{c[0]:10d} {c[1]:2d} {m * 1000:10.1f} {m / base:14.2f}")


if __name__ == "__main__":
    algorithms()
    argon2_parameters()
