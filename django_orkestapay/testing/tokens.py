"""Access tokens of the fake gateway: issue JWT-shaped Bearer tokens, recognise them, expire them.

``TokenIssuer`` works on the shared ``Store`` (its ``tokens`` dict and lock) and reads ``token_lifetime`` from the
settings at the moment a token is issued.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from ._util import new_id
from .records import Settings, Store, TokenRecord


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_json(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


class TokenIssuer:
    """Issues and checks the Bearer tokens of ``POST /v1/oauth/tokens``."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def issue_token(self, client_id: str, issuer: str) -> dict[str, Any]:
        """Issue a JWT-shaped Bearer token valid for ``token_lifetime`` seconds."""
        now = self.store.clock()
        lifetime = self.settings.token_lifetime
        header = {"alg": "RS256", "typ": "JWT", "kid": _b64url(os.urandom(32))}
        claims = {
            "exp": int(now + lifetime),
            "iat": int(now),
            "jti": new_id("jti")[4:],
            "iss": issuer,
            "sub": new_id("sub")[4:],
            "typ": "Bearer",
            "azp": client_id,
        }
        token = f"{_b64url_json(header)}.{_b64url_json(claims)}.{_b64url(os.urandom(256))}"
        with self.store.lock:
            self.store.tokens[token] = TokenRecord(client_id, now + lifetime)
        return {"token_type": "Bearer", "expires_in": int(lifetime), "access_token": token}

    def token_client(self, token: str) -> str | None:
        """The client id of a known, unexpired token, else None."""
        with self.store.lock:
            record = self.store.tokens.get(token)
        if record is None or self.store.clock() >= record.expires_at:
            return None
        return record.client_id

    def expire_tokens(self) -> None:
        """Make every issued token expired (the next API call with one gets 401)."""
        with self.store.lock:
            for record in self.store.tokens.values():
                record.expires_at = float("-inf")
