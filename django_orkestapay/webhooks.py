"""The webhook endpoint: POST only, CSRF-exempt, signature verified over the raw body before any parsing."""

from __future__ import annotations

import logging

from django.db import OperationalError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import conf, services, tasks
from .exceptions import WebhookVerificationError
from .webhook_verification import WebhookVerifier

logger = logging.getLogger("django_orkestapay.webhooks")

MAX_BODY_BYTES = 256 * 1024


@transaction.non_atomic_requests  # the stored Event survives a failed processing, even with ATOMIC_REQUESTS
@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    """Receive one OrkestaPay delivery.

    400: bad signature, stale timestamp or malformed body (stored as rejected; OrkestaPay will not fix it by
    retrying). 200: processed, ignored, a duplicate, or deferred (the processing failed on an answer we cannot use or
    a bug of ours: the event is stored ``failed``, the reprocess sweep retries it with backoff, and OrkestaPay's own
    retries would only pile up). 202: stored and queued for a task (``WEBHOOK_PROCESSING``, see
    :func:`.tasks.processes_webhooks_inline`). 500: processing failed transiently (OrkestaPay unreachable or
    answering 5xx); the event is stored and OrkestaPay retries (or the reprocess sweep, or ``manage.py
    orkestapay_reprocess_events``, does). 503: the database stayed busy (SQLite's "database is locked"); nothing
    was stored and OrkestaPay retries.
    """
    configured = conf.get("WEBHOOK_SECRETS") or []
    if isinstance(configured, str):  # a bare string would be split into characters (system check orkestapay.E006)
        logger.error("settings.ORKESTAPAY['WEBHOOK_SECRETS'] must be a list of whsec_ secrets, not a string")
        return JsonResponse({"error": "webhooks are misconfigured"}, status=500)
    secrets = list(configured)
    if not secrets:
        logger.error("A webhook arrived but settings.ORKESTAPAY['WEBHOOK_SECRETS'] is empty")
        return JsonResponse({"error": "webhooks are not configured"}, status=500)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse({"error": "bad Content-Length"}, status=400)
    if length > MAX_BODY_BYTES:
        return JsonResponse({"error": "body too large"}, status=413)
    body = request.read(MAX_BODY_BYTES + 1)  # bounded even when no Content-Length was sent
    if len(body) > MAX_BODY_BYTES:
        return JsonResponse({"error": "body too large"}, status=413)
    headers = dict(request.headers)
    try:
        verifier = WebhookVerifier(secrets, tolerance=int(conf.get("WEBHOOK_TOLERANCE")))
    except ValueError:
        logger.error("settings.ORKESTAPAY['WEBHOOK_SECRETS'] holds a secret that is not a whsec_ base64 value")
        return JsonResponse({"error": "webhooks are misconfigured"}, status=500)
    try:
        verified = verifier.verify(body, headers)
    except WebhookVerificationError as exc:
        services.reject_webhook(body=body, headers=headers, reason=f"signature: {exc.message}")
        return JsonResponse({"error": "invalid signature"}, status=400)
    try:
        if tasks.processes_webhooks_inline():
            _event, outcome = services.receive_webhook(message_id=verified.message_id, body=body, headers=headers)
        else:  # stored (committed), then processed by a task; the reprocess sweep covers a lost task
            event, outcome = services.store_webhook(message_id=verified.message_id, body=body, headers=headers)
            if outcome == "stored":
                tasks.enqueue_on_commit(tasks.process_webhook_event, event.pk)
                return JsonResponse({"status": "queued"}, status=202)
    except OperationalError:
        logger.warning("A webhook delivery found the database busy; answered 503 (OrkestaPay retries)")
        response = JsonResponse({"error": "database busy; retry later"}, status=503)
        response["Retry-After"] = "5"
        return response
    except Exception:  # noqa: BLE001 - recorded on the event; OrkestaPay retries on 5xx
        return JsonResponse({"error": "processing failed; retry later"}, status=500)
    if outcome == "rejected":
        return JsonResponse({"error": "malformed body"}, status=400)
    return JsonResponse({"status": outcome}, status=200)
