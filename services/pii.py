"""Personal data at rest: ID numbers encrypted with PII_KEY, plus a keyed hash to find them, and
files holding them (an upload parked in Redis) encrypted with a key of their own from PII_KEY; the
official accounts' credentials likewise, with a third key."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.policy import id_number


def _derive(secret: str, purpose: bytes) -> bytes:
    # Separate keys for encryption and hashing, both from the one PII_KEY operators keep.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sanzhida:" + purpose).derive(
        secret.encode("utf-8")
    )


class PiiCipher:
    """Encrypts, decrypts and hashes ID numbers; never logs or returns them unmasked by accident."""

    def __init__(self, secret: str):
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"encrypt")))
        self._file_fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"encrypt-file")))
        self._secret_fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"encrypt-credential")))
        self._hash_key = _derive(secret, b"lookup-hash")

    def __repr__(self) -> str:
        return "<PiiCipher>"

    def encrypt(self, value: str) -> str:
        """Encrypt a normalised ID number for storage."""
        return self._fernet.encrypt(id_number.normalize(value).encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a stored ID number; raises ValueError when the key does not match."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ValueError("ID number cannot be decrypted with this PII_KEY") from None

    def encrypt_bytes(self, data: bytes) -> bytes:
        """Encrypt (and authenticate) a file that holds personal data, such as an uploaded spreadsheet."""
        return self._file_fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        """Decrypt what `encrypt_bytes` made; raises ValueError when it was altered or the key differs."""
        try:
            return self._file_fernet.decrypt(token)
        except InvalidToken:
            raise ValueError("data cannot be decrypted with this PII_KEY") from None

    def encrypt_credential(self, value: str) -> str:
        """Encrypt a credential (an official account's Token, EncodingAESKey or AppSecret) for storage."""
        return self._secret_fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt_credential(self, token: str) -> str:
        """Decrypt what `encrypt_credential` made; raises ValueError when the key does not match."""
        try:
            return self._secret_fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ValueError("credential cannot be decrypted with this PII_KEY") from None

    def lookup_hash(self, value: str) -> str:
        """A keyed hash of the normalised number: equal numbers give equal hashes."""
        normalized = id_number.normalize(value).encode("utf-8")
        return hmac.new(self._hash_key, normalized, hashlib.sha256).hexdigest()

    def keyed_hash(self, purpose: str, value: str) -> str:
        """A keyed hash of any short secret (invite codes and the like)."""
        return hmac.new(self._hash_key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
