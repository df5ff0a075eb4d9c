"""A software passkey authenticator for the tests, built from fido2's data types: it answers
Gatehouse's options as a browser and a platform authenticator would (JSON with base64url), and
can be told to misbehave (no user verification, a wrong origin or RP ID, a counter that goes back).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import AttestationObject, AttestedCredentialData, AuthenticatorData, CollectedClientData

ORIGIN = "http://localhost:8000"
FLAG = AuthenticatorData.FLAG


@dataclass
class SoftAuthenticator:
    origin: str = ORIGIN
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    counter: int = 0
    user_handle: bytes = b""

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None, uv: bool = True
    ) -> dict[str, Any]:
        """navigator.credentials.create() answering PublicKeyCredentialCreationOptionsJSON."""
        self.user_handle = websafe_decode(options["user"]["id"])
        client_data = CollectedClientData.create(
            type="webauthn.create", challenge=options["challenge"], origin=origin or self.origin
        )
        credential_data = AttestedCredentialData.create(
            b"\0" * 16, self.credential_id, ES256.from_cryptography_key(self.key.public_key())
        )
        auth_data = AuthenticatorData.create(
            _rp_hash(rp_id or options["rp"]["id"]), self._flags(uv) | FLAG.AT, self.counter, credential_data
        )
        attestation = AttestationObject.create("none", auth_data, {})
        return {
            "id": websafe_encode(self.credential_id),
            "rawId": websafe_encode(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": websafe_encode(client_data),
                "attestationObject": websafe_encode(attestation),
                "transports": ["internal", "hybrid"],
            },
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool = True,
        counter: int | None = None,
    ) -> dict[str, Any]:
        """navigator.credentials.get() answering PublicKeyCredentialRequestOptionsJSON; the
        counter goes up by one unless `counter` says what to send."""
        self.counter = self.counter + 1 if counter is None else counter
        client_data = CollectedClientData.create(
            type="webauthn.get", challenge=options["challenge"], origin=origin or self.origin
        )
        auth_data = AuthenticatorData.create(_rp_hash(rp_id or options["rpId"]), self._flags(uv), self.counter)
        signature = self.key.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
        return {
            "id": websafe_encode(self.credential_id),
            "rawId": websafe_encode(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": websafe_encode(client_data),
                "authenticatorData": websafe_encode(auth_data),
                "signature": websafe_encode(signature),
                "userHandle": websafe_encode(self.user_handle),
            },
            "clientExtensionResults": {},
        }

    @staticmethod
    def _flags(uv: bool) -> AuthenticatorData.FLAG:
        return FLAG.UP | (FLAG.UV if uv else FLAG(0))


def _rp_hash(rp_id: str) -> bytes:
    return hashlib.sha256(rp_id.encode()).digest()
