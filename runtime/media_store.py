"""The media store: where voice, photos and video are kept, chosen by MEDIA_STORE_URL.

`file:///path` keeps files in a folder (the default, under `instance/`; a volume in docker-compose).
`s3://bucket/prefix` keeps them in S3-compatible object storage (MinIO, Aliyun OSS, Tencent COS),
reached at S3_ENDPOINT_URL with S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY. Keys are relative paths
made by the service (`2026/11/30/17.amr`), never from what a user sent. Nothing here is served to
a browser directly: the web layer reads a file only for a signed-in viewer allowed to see it.

Every file is encrypted before it reaches the store (AES-256-GCM, a key derived from PII_KEY):
people photograph ID cards, 低保 certificates and prescriptions, and ID numbers are encrypted
wherever they rest. A copied folder or bucket holds nothing readable.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from config.settings import Settings, default_media_store_url


class MediaStoreError(Exception):
    """The store could not keep or give back a file (the message says why)."""


class MediaStore(Protocol):
    """Keeps bytes under a key."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Keep `data` under `key`, replacing what was there."""

    def get(self, key: str) -> bytes:
        """The bytes under `key`; MediaStoreError when there are none."""

    def delete(self, key: str) -> None:
        """Forget `key` (nothing happens when it is not there)."""


def _checked(key: str) -> str:
    """A key as the service makes them: relative, no `..`, no empty parts."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise MediaStoreError(f"not a media key: {key!r}")
    return key


class FileStore:
    """Files in a folder; each write goes to a temporary file first, then is renamed into place."""

    def __init__(self, root: Path):
        self.root = root

    def __repr__(self) -> str:
        return f"<FileStore {self.root}>"

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write atomically, so a reader never sees half a file."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except OSError as exc:
            raise MediaStoreError(f"cannot write {key}: {exc.strerror}") from None

    def get(self, key: str) -> bytes:
        """Read the whole file."""
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise MediaStoreError(f"cannot read {key}: {exc.strerror}") from None

    def delete(self, key: str) -> None:
        """Remove the file if it is there."""
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise MediaStoreError(f"cannot delete {key}: {exc.strerror}") from None

    def keys(self) -> Iterator[str]:
        """Every key kept, for backups (a write still in its temporary file is not one yet)."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith(".part-"):
                yield path.relative_to(self.root).as_posix()


class S3Store:
    """Objects in an S3-compatible bucket under a prefix (boto3)."""

    def __init__(self, bucket: str, prefix: str, client):
        self.bucket, self.prefix, self.client = bucket, prefix.strip("/"), client

    def __repr__(self) -> str:
        return f"<S3Store s3://{self.bucket}/{self.prefix}>"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{_checked(key)}" if self.prefix else _checked(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Upload one object."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)
        except (BotoCoreError, ClientError) as exc:
            raise MediaStoreError(f"cannot upload {key}: {exc}") from None

    def get(self, key: str) -> bytes:
        """Download one object."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise MediaStoreError(f"cannot download {key}: {exc}") from None

    def delete(self, key: str) -> None:
        """Delete one object (S3 answers success for a missing key too)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise MediaStoreError(f"cannot delete {key}: {exc}") from None

    def keys(self) -> Iterator[str]:
        """Every key kept under the prefix, for backups."""
        from botocore.exceptions import BotoCoreError, ClientError

        start = f"{self.prefix}/" if self.prefix else ""
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
                for item in page.get("Contents", []):
                    yield item["Key"][len(start):]
        except (BotoCoreError, ClientError) as exc:
            raise MediaStoreError(f"cannot list s3://{self.bucket}/{self.prefix}: {exc}") from None


class EncryptedStore:
    """Encrypts what it keeps and decrypts what it gives back, around another store.

    A file is `SZM1`, a 12-byte nonce, then AES-GCM's ciphertext and tag; the key is bound to the
    file's key as associated data, so a file moved under another key does not decrypt.
    """

    MAGIC = b"SZM1"

    def __init__(self, inner: MediaStore, secret: str):
        self.inner = inner
        self._aead = AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                 info=b"sanzhida:media-store").derive(secret.encode("utf-8")))

    def __repr__(self) -> str:
        return f"<EncryptedStore {self.inner!r}>"

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Encrypt, then keep (the stored type is opaque: the database holds the real one)."""
        nonce = os.urandom(12)
        sealed = self.MAGIC + nonce + self._aead.encrypt(nonce, data, key.encode("utf-8"))
        self.inner.put(key, sealed, "application/octet-stream")

    def get(self, key: str) -> bytes:
        """Read and decrypt; MediaStoreError when the file was not sealed with this key."""
        sealed = self.inner.get(key)
        if not sealed.startswith(self.MAGIC):
            raise MediaStoreError(f"{key} is not an encrypted media file")
        try:
            return self._aead.decrypt(sealed[4:16], sealed[16:], key.encode("utf-8"))
        except InvalidTag:
            raise MediaStoreError(f"{key} cannot be decrypted with this PII_KEY") from None

    def delete(self, key: str) -> None:
        """Forget `key`."""
        self.inner.delete(key)


def make_media_store(settings: Settings) -> MediaStore:
    """The store MEDIA_STORE_URL names, encrypting with a key derived from PII_KEY."""
    return EncryptedStore(_plain_store(settings), settings.pii_key)


def _plain_store(settings: Settings) -> MediaStore:
    """The folder or bucket MEDIA_STORE_URL names, without encryption."""
    url = urlparse(settings.media_store_url or default_media_store_url())
    if url.scheme == "file":
        return FileStore(Path(unquote(url.path)))
    if url.scheme == "s3":
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region or "us-east-1",
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            # Path style suits MinIO and most S3-compatible services; Aliyun OSS wants "virtual".
            config=Config(s3={"addressing_style": settings.s3_addressing_style}, retries={"max_attempts": 2},
                          connect_timeout=5, read_timeout=30),
        )
        return S3Store(url.netloc, url.path, client)
    raise MediaStoreError(f"unknown media store {settings.media_store_url!r}")
