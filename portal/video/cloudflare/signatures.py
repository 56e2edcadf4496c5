"""RealtimeKit webhook signatures: RSA-SHA256 (PKCS#1 v1.5) over the exact received bytes, with the public key
RealtimeKit publishes (CLOUDFLARE_WEBHOOK_KEY_URL).

The key is cached and fetched again once when a signature fails (at most once a minute, so forged requests
cannot make the portal hammer the key URL).
"""

from __future__ import annotations

import base64
import binascii
import threading
from datetime import datetime, timedelta
from typing import Any

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from portal.config import Settings
from portal.core.clock import now_utc

KEY_REFETCH_INTERVAL = timedelta(seconds=60)


class KeyUnavailable(Exception):
    """The public key could not be fetched or read; the delivery is refused with 503 so it is retried."""


class WebhookKeys:
    """The provider's public key, fetched from `url` and cached; refetched at most once a minute."""

    def __init__(self, url: str, *, timeout: float):
        self.url = url
        self.timeout = timeout
        self._key: rsa.RSAPublicKey | None = None
        self._fetched_at: datetime | None = None
        self._lock = threading.Lock()

    def current(self) -> rsa.RSAPublicKey:
        with self._lock:
            if self._key is None:
                self._fetch()
            assert self._key is not None
            return self._key

    def refetch(self) -> rsa.RSAPublicKey | None:
        """A fresh key after a failed check, or None when the cached one was fetched too recently."""
        with self._lock:
            if self._fetched_at and now_utc() - self._fetched_at < KEY_REFETCH_INTERVAL:
                return None
            self._fetch()
            return self._key

    def _fetch(self) -> None:
        try:
            response = requests.get(self.url, timeout=self.timeout, headers={"Accept": "application/json"})
            response.raise_for_status()
            pem = response.json()["data"]["publicKey"]
            key = serialization.load_pem_public_key(pem.encode())
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise KeyUnavailable(f"the webhook key at {self.url} could not be read: {exc}") from exc
        if not isinstance(key, rsa.RSAPublicKey):
            raise KeyUnavailable(f"the webhook key at {self.url} is not an RSA key")
        self._key, self._fetched_at = key, now_utc()


def keys_for(app_extensions: dict[str, Any], settings: Settings) -> WebhookKeys:
    """The app's cached keys (one fetch serves every delivery), fetched afresh when the key URL changed."""
    keys = app_extensions.get("portal.video.webhook_keys")
    if keys is None or keys.url != settings.CLOUDFLARE_WEBHOOK_KEY_URL:
        keys = WebhookKeys(settings.CLOUDFLARE_WEBHOOK_KEY_URL, timeout=settings.VIDEO_TIMEOUT_SECONDS)
        app_extensions["portal.video.webhook_keys"] = keys
    return keys


def _signature_valid(key: rsa.RSAPublicKey, raw_body: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, raw_body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def verify_signature(keys: WebhookKeys, raw_body: bytes, signature_header: str) -> bool:
    """True if `signature_header` (base64) signs exactly `raw_body`. Raises KeyUnavailable if no key can be had."""
    try:
        signature = base64.b64decode(signature_header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    if _signature_valid(keys.current(), raw_body, signature):
        return True
    fresh = keys.refetch()
    return fresh is not None and _signature_valid(fresh, raw_body, signature)
