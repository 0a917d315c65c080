"""The token questions: what ``POST /v1/oauth/tokens`` answers, how long its token really lives, how a refused
client secret is answered, and how a token OrkestaPay never issued (garbage, or a real one with its signature
changed) is refused."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ..client import AUTH_PATH
from .assumptions import DOCUMENTED_TOKEN_LIFETIME, TOKEN_FIELDS
from .context import Exchange, ProbeContext, Question, number
from .report import Row

TOKEN_FIELDS_Q = Question(
    "token.fields",
    "Does the token answer carry access_token (a JWT), token_type and expires_in?",
    "access_token is a JWT, token_type is Bearer, expires_in is a positive number of seconds (the client caches the "
    "token for expires_in minus TOKEN_EXPIRY_LEEWAY)",
    "The client cannot use this answer: attach the JSON report to an issue.",
)
TOKEN_LIFETIME_Q = Question(
    "token.lifetime",
    "How long does a token live, by expires_in and by the JWT's own exp - iat?",
    f"expires_in is {DOCUMENTED_TOKEN_LIFETIME} s (documented) and the JWT lives at least as long",
    "If the JWT lives shorter than expires_in, cached tokens are refused before they expire: set "
    "ORKESTAPAY['TOKEN_EXPIRY_LEEWAY'] to at least expires_in - (exp - iat) + 60. Another expires_in alone is "
    "harmless (the client follows it); tell us so the fake can follow too.",
)
GARBAGE_Q = Question(
    "auth.garbage_token",
    "How is a call with a token OrkestaPay never issued refused?",
    "HTTP 401 with a JSON body carrying a message (the client renews its token once on a 401, and only on a 401)",
    "On 403 the client does not renew a refused token, so an expired cached token fails until the cache forgets it: "
    "tell us (attach the JSON report). A 401 with another body is harmless (the message is read from message or "
    "error); tell us so the fake answers the same.",
)
BAD_SECRET_Q = Question(
    "auth.bad_secret",
    "How does POST /v1/oauth/tokens refuse the right client id with a wrong client secret?",
    "HTTP 401 (or 403) with a JSON body carrying message or error: the client raises AuthenticationError with it, "
    "and never retries a refused token request",
    "With another status the client raises another error (400: InvalidRequestError) whose message may mislead "
    "whoever reads the logs; nothing else changes. Tell us (attach the JSON report) so the fake answers the same.",
)
TAMPERED_Q = replace(GARBAGE_Q, key="auth.tampered_token", text="How is a real token with a changed signature refused?")


def _claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT, unverified (we only read its times), or None when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def ask_token(ctx: ProbeContext) -> Iterator[Row]:
    """``token.fields`` and ``token.lifetime``; remembers the token for the questions that tamper with one."""
    credentials = {
        "client_id": ctx.config.client_id,
        "client_secret": ctx.config.client_secret,
        "grant_type": "client_credentials",
    }
    answer = ctx.call("POST", AUTH_PATH, payload=credentials, authorise=False)
    body = answer.body if isinstance(answer.body, dict) else {}
    token = body.get("access_token")
    ctx.redactor.add_secret(token if isinstance(token, str) else None)
    if not answer.ok:
        advice = "Check ORKESTAPAY_SANDBOX_CLIENT_ID / _SECRET (the portal's Developers > API keys, sandbox)."
        yield TOKEN_FIELDS_Q.error(f"no token: {answer.describe()}", answer.evidence(), advice)
        yield TOKEN_LIFETIME_Q.skip("no token")
        return
    ctx.memo["token"] = token
    claims = _claims(token) if isinstance(token, str) else None
    expires_in = number(body.get("expires_in"))
    fields = {
        "fields": sorted(body),
        "token_type": body.get("token_type"),
        "expires_in": body.get("expires_in"),
        "jwt_claims": sorted(claims) if claims else None,
    }
    observed = (
        f"fields {', '.join(sorted(body))}; access_token {'a JWT' if claims else 'not a JWT'}; "
        f"token_type {body.get('token_type')!r}; expires_in {body.get('expires_in')!r}"
    )
    fits = (
        all(name in body for name in TOKEN_FIELDS)
        and claims is not None
        and str(body.get("token_type", "")).lower() == "bearer"
        and expires_in is not None
        and expires_in > 0
    )
    yield TOKEN_FIELDS_Q.answer(observed, matches=fits, evidence=fields)
    yield _lifetime_row(expires_in, claims)


def _lifetime_row(expires_in: Decimal | None, claims: dict[str, Any] | None) -> Row:
    exp, iat = (number(claims.get(name)) if claims else None for name in ("exp", "iat"))
    jwt_lifetime = exp - iat if exp is not None and iat is not None else None
    evidence = {"expires_in": expires_in, "jwt_exp_minus_iat": jwt_lifetime}
    if expires_in is None:
        return TOKEN_LIFETIME_Q.error("the answer has no usable expires_in", evidence)
    observed = f"expires_in {expires_in} s; JWT exp - iat {'unknown' if jwt_lifetime is None else f'{jwt_lifetime} s'}"
    if jwt_lifetime is not None and jwt_lifetime < expires_in:
        observed += f" (TOKEN_EXPIRY_LEEWAY must be at least {expires_in - jwt_lifetime + 60})"
    matches = expires_in == DOCUMENTED_TOKEN_LIFETIME and (jwt_lifetime is None or jwt_lifetime >= expires_in)
    return TOKEN_LIFETIME_Q.answer(observed, matches=matches, evidence=evidence)


def _refusal_row(question: Question, answer: Exchange) -> Row:
    body = answer.body
    if answer.ok:
        observed = f"accepted (HTTP {answer.status}): a token nobody issued was not refused"
    elif answer.status is None:
        observed = answer.describe()
    elif isinstance(body, dict):
        observed = f"HTTP {answer.status}, JSON fields {', '.join(sorted(body))}"
    else:
        observed = f"HTTP {answer.status}, {'no body' if body in (None, '') else 'a body that is not JSON'}"
    message = body.get("message") if isinstance(body, dict) else None
    matches = answer.status == 401 and isinstance(message, str) and bool(message.strip())
    return question.answer(observed, matches=matches, evidence=answer.evidence())


def _bad_secret_row(ctx: ProbeContext) -> Row:
    wrong = f"{ctx.config.client_secret}-wrong-{ctx.run_id}"
    ctx.redactor.add_secret(wrong)
    credentials = {"client_id": ctx.config.client_id, "client_secret": wrong, "grant_type": "client_credentials"}
    answer = ctx.call("POST", AUTH_PATH, payload=credentials, authorise=False)
    body = answer.body
    if answer.ok:
        return BAD_SECRET_Q.answer(f"accepted (HTTP {answer.status}): a wrong secret got a token", matches=False)
    if answer.status is None:
        return BAD_SECRET_Q.error(answer.describe(), answer.evidence())
    fields = sorted(body) if isinstance(body, dict) else []
    said = [key for key in ("message", "error") if isinstance(body, dict) and isinstance(body.get(key), str)]
    observed = f"HTTP {answer.status}, " + (f"JSON fields {', '.join(fields)}" if fields else "no JSON body")
    evidence = {**answer.evidence(), "fields": fields}
    return BAD_SECRET_Q.answer(observed, matches=answer.status in (401, 403) and bool(said), evidence=evidence)


def ask_auth(ctx: ProbeContext) -> Iterator[Row]:
    """``auth.bad_secret``, then ``auth.garbage_token`` and ``auth.tampered_token``: the same read with a token
    OrkestaPay never issued."""
    yield _bad_secret_row(ctx)
    path = "/v1/orders/ord_00000000000000000000000000000000"
    garbage = "not-a-token-" + ctx.run_id
    ctx.redactor.add_secret(garbage)
    yield _refusal_row(GARBAGE_Q, ctx.call("GET", path, access_token=garbage))
    token = ctx.memo.get("token")
    if not isinstance(token, str) or token.count(".") != 2:
        yield TAMPERED_Q.skip("no JWT-shaped token to change")
        return
    head, _, signature = token.rpartition(".")
    tampered = f"{head}.{signature[::-1] if len(set(signature)) > 1 else signature + 'x'}"
    ctx.redactor.add_secret(tampered)
    yield _refusal_row(TAMPERED_Q, ctx.call("GET", path, access_token=tampered))
