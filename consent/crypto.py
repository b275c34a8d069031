"""Field encryption (AES-GCM) and blind indexes (HMAC-SHA256) for personal data.

A stored value reads ``v1:<key_id>:<nonce>:<ciphertext>`` (base64url parts), so the
key that wrote it is known without trial decryption and keys can be rotated: the first
configured key encrypts, every configured key decrypts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

PREFIX = "v1"


class KeyConfigError(ValueError):
    pass


class DecryptionError(ValueError):
    pass


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_keys(entries: list[str]) -> dict[str, bytes]:
    """Parse ``key_id:base64key`` entries, keeping their order (newest first)."""
    if not entries:
        raise KeyConfigError("FIELD_ENCRYPTION_KEYS is empty.")
    keys: dict[str, bytes] = {}
    for entry in entries:
        key_id, sep, encoded = entry.partition(":")
        if not sep or not key_id or ":" in encoded:
            raise KeyConfigError("FIELD_ENCRYPTION_KEYS entries read key_id:base64key.")
        try:
            key = _b64d(encoded)
        except ValueError as exc:
            raise KeyConfigError(f"Key {key_id} is not base64.") from exc
        if len(key) != 32:
            raise KeyConfigError(f"Key {key_id} must be 32 bytes (AES-256).")
        keys[key_id] = key
    return keys


@lru_cache(maxsize=8)
def _keyring(entries: tuple[str, ...]) -> tuple[str, dict[str, AESGCM]]:
    keys = parse_keys(list(entries))
    return next(iter(keys)), {kid: AESGCM(key) for kid, key in keys.items()}


def keyring() -> tuple[str, dict[str, AESGCM]]:
    return _keyring(tuple(settings.FIELD_ENCRYPTION_KEYS))


def current_key_id() -> str:
    return keyring()[0]


def encrypt(plaintext: str) -> str:
    key_id, ciphers = keyring()
    nonce = os.urandom(12)
    ct = ciphers[key_id].encrypt(nonce, plaintext.encode(), key_id.encode())
    return f"{PREFIX}:{key_id}:{_b64e(nonce)}:{_b64e(ct)}"


def key_id_of(token: str) -> str:
    return token.split(":", 2)[1]


def decrypt(token: str) -> str:
    try:
        prefix, key_id, nonce, ct = token.split(":")
    except ValueError as exc:
        raise DecryptionError("Not an encrypted value.") from exc
    if prefix != PREFIX:
        raise DecryptionError("Unknown encryption format.")
    cipher = keyring()[1].get(key_id)
    if cipher is None:
        raise DecryptionError(f"Encryption key {key_id} is not configured.")
    try:
        return cipher.decrypt(_b64d(nonce), _b64d(ct), key_id.encode()).decode()
    except Exception as exc:  # InvalidTag: altered value or wrong key
        raise DecryptionError("Encrypted value failed authentication.") from exc


def blind_indexer(prefix: str = ""):
    """``blind_index`` for many values sharing a prefix, with the keyed hash set up
    once (a thousand fresh HMAC objects show in a batch check's server time)."""
    base = hmac.new(settings.BLIND_INDEX_KEY.encode(), digestmod=hashlib.sha256)

    def index(value: str) -> str:
        digest = base.copy()
        digest.update((prefix + value).encode())
        return digest.hexdigest()

    return index


def blind_index(value: str) -> str:
    """Keyed hash used for lookups and uniqueness; the clear value is never stored."""
    return blind_indexer()(value)


def client_hmac(key: bytes, value: str) -> str:
    """An identifier as a sending system's own HMAC-SHA256 (hex)."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
