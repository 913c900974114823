"""Alert webhooks: only to hosts the operator listed, signed, retried with backoff, never redirected.

The body is the event as JSON; `X-TraceJudge-Signature: sha256=<hex>` is the HMAC-SHA256 of those
exact bytes under the operator's secret (TRACEJUDGE_WEBHOOK_SECRET), so a receiver checks it before
trusting the body (hmac.compare_digest), and `X-TraceJudge-Event` names the event, so a receiver
that gets a retry of one it already took can drop it. A redirect is a failure, not followed: it
could lead anywhere the allow-list does not.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio
import anyio.to_thread

from mcp_server.settings import Settings
from store.errors import InvalidArgument

SIGNATURE_HEADER = "X-TraceJudge-Signature"
EVENT_HEADER = "X-TraceJudge-Event"
TIMEOUT_S = 10.0


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_webhook(url: str, settings: Settings) -> str:
    """`url` if alerts may be sent there: http(s), its host on the operator's list
    (webhook_hosts), and a secret to sign with; else an InvalidArgument saying which setting."""
    parts = urlsplit(url.strip()) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(f"webhook_url must be an http(s) URL; got {url!r}.")
    host = parts.hostname.lower()
    allowed = {h.strip().lower() for h in settings.webhook_hosts}
    if host not in allowed and f"{host}:{parts.port}" not in allowed:
        raise InvalidArgument(
            f"alerts may not be sent to {host}: the operator lists the hosts webhooks may reach in "
            f"TRACEJUDGE_WEBHOOK_HOSTS (now {', '.join(sorted(allowed)) or 'none'}); add {host} there, or "
            f"{host}:{parts.port or ('443' if parts.scheme == 'https' else '80')} for that port alone."
        )
    if not settings.webhook_secret:
        raise InvalidArgument(
            "alert webhooks are signed: set TRACEJUDGE_WEBHOOK_SECRET (e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))') where tracejudge runs, and give the receiver the same secret."
        )
    return url.strip()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        raise urllib.error.HTTPError(req.full_url, code, f"redirected to {newurl}; webhooks follow no redirect",
                                     headers, fp)  # fmt: skip


_OPENER = urllib.request.build_opener(_NoRedirects)


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    error: str | None


def _post_once(url: str, body: bytes, headers: dict[str, str]) -> tuple[bool, bool, str | None]:
    """(delivered, worth retrying, error)."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as response:
            response.read(65_536)
            return True, False, None
    except urllib.error.HTTPError as exc:
        retry = exc.code >= 500 or exc.code == 429
        return False, retry, f"HTTP {exc.code}: {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        return False, True, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


async def deliver(url: str, body: bytes, event_id: str, settings: Settings) -> Delivery:
    """POST `body` to `url`, up to settings.webhook_attempts times (waits doubling from
    webhook_backoff_s) while it fails in a way a retry may fix (no answer, 5xx, 429)."""
    try:
        check_webhook(url, settings)  # the list may have changed since the rule was made
    except InvalidArgument as exc:
        return Delivery(False, 0, str(exc))
    assert settings.webhook_secret is not None  # check_webhook refuses without one
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, settings.webhook_secret),
               EVENT_HEADER: event_id, "User-Agent": "tracejudge-alerts"}  # fmt: skip
    error = None
    for attempt in range(1, settings.webhook_attempts + 1):
        delivered, retry, error = await anyio.to_thread.run_sync(_post_once, url, body, headers)
        if delivered:
            return Delivery(True, attempt, None)
        if not retry or attempt == settings.webhook_attempts:
            return Delivery(False, attempt, error)
        await anyio.sleep(settings.webhook_backoff_s * 2 ** (attempt - 1))
    return Delivery(False, settings.webhook_attempts, error)
