from __future__ import annotations

import base64
import os

import pytest

from consent import crypto


def key_entry(key_id: str) -> str:
    return f"{key_id}:" + base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_encrypted_value_names_its_key_and_round_trips(settings):
    settings.FIELD_ENCRYPTION_KEYS = [key_entry("k1")]
    token = crypto.encrypt("+8613800138000")
    assert token.startswith("v1:k1:")
    assert "13800138000" not in token
    assert crypto.decrypt(token) == "+8613800138000"


def test_old_key_still_decrypts_after_a_new_key_is_added(settings):
    old = key_entry("k1")
    settings.FIELD_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt("alice@example.com")
    settings.FIELD_ENCRYPTION_KEYS = [key_entry("k2"), old]
    assert crypto.decrypt(token) == "alice@example.com"
    assert crypto.key_id_of(crypto.encrypt("x")) == "k2"


def test_tampered_ciphertext_or_removed_key_is_refused(settings):
    settings.FIELD_ENCRYPTION_KEYS = [key_entry("k1")]
    token = crypto.encrypt("secret")
    prefix, kid, nonce, ct = token.split(":")
    flipped = ct[:-2] + ("A" if ct[-2] != "A" else "B") + ct[-1]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(":".join([prefix, kid, nonce, flipped]))
    settings.FIELD_ENCRYPTION_KEYS = [key_entry("k9")]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


@pytest.mark.parametrize("entries", [[], ["nokey"], ["k1:" + "A" * 10]])
def test_bad_key_configuration_is_reported(entries):
    with pytest.raises(crypto.KeyConfigError):
        crypto.parse_keys(entries)


def test_blind_index_is_keyed(settings):
    settings.BLIND_INDEX_KEY = "one-key-" * 5
    first = crypto.blind_index("phone:+8613800138000")
    settings.BLIND_INDEX_KEY = "another-" * 5
    assert crypto.blind_index("phone:+8613800138000") != first
    assert len(first) == 64
