"""Tenants' own provider keys, encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The encryption key comes from GLEANER_MODEL_KEYS_ENCRYPTION_KEY (a Kubernetes Secret); without it no key
is stored at all. Several keys may be given, comma-separated, newest first: new values are encrypted
with the first and any of them decrypts, so the key can be rotated without re-encrypting every row.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gleaner.errors import InvalidRequest, PermanentError
from gleaner.settings import Settings


def _fernet(settings: Settings) -> MultiFernet | None:
    secret = settings.MODEL_KEYS_ENCRYPTION_KEY
    if secret is None:
        return None
    keys = [k.strip() for k in secret.get_secret_value().split(",") if k.strip()]
    try:
        return MultiFernet([Fernet(k) for k in keys]) if keys else None
    except ValueError:
        # Not validated in Settings: pydantic's error would echo the secret into the log.
        raise PermanentError(
            "GLEANER_MODEL_KEYS_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64 bytes)",
            code="key_storage_misconfigured",
            status_code=503,
        ) from None


def encrypt_model_key(settings: Settings, plaintext: str) -> str:
    """The stored form of a tenant's provider key; InvalidRequest when no encryption key is configured."""
    fernet = _fernet(settings)
    if fernet is None:
        raise InvalidRequest(
            "this server stores no provider keys: GLEANER_MODEL_KEYS_ENCRYPTION_KEY is not set",
            code="key_storage_not_configured",
        )
    return fernet.encrypt(plaintext.encode()).decode()


def decrypt_model_key(settings: Settings, stored: str) -> str:
    """A tenant's provider key back; PermanentError when it cannot be decrypted with the keys given."""
    fernet = _fernet(settings)
    try:
        if fernet is None:
            raise InvalidToken
        return fernet.decrypt(stored.encode()).decode()
    except InvalidToken as exc:
        raise PermanentError(
            "the model's API key cannot be decrypted (GLEANER_MODEL_KEYS_ENCRYPTION_KEY missing or rotated away)",
            code="model_key_unreadable",
        ) from exc
