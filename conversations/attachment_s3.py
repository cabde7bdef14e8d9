"""Attachment bytes in S3-compatible object storage (AWS S3, MinIO, Ceph, R2...), through boto3.

boto3 is the maintained reference client and speaks to every S3-compatible
service given an endpoint URL. It is synchronous, so each call runs in a
thread; the event loop never waits on the network. The bucket is never made
public: files leave only through the gateway's signed URLs.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote, unquote

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from conversations.attachments import ID_PATTERN, StoredFile


class S3AttachmentStore:
    def __init__(self, bucket: str, *, prefix: str = "attachments/", endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._options: dict[str, Any] = {
            "endpoint_url": endpoint_url, "region_name": region, "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "config": Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        }
        self._client: Any = None

    @property
    def client(self) -> Any:
        """Made on first use: every job builds its services, and most jobs never touch a file."""
        if self._client is None:
            self._client = boto3.client("s3", **self._options)
        return self._client

    def _key(self, attachment_id: str) -> str:
        if not ID_PATTERN.match(attachment_id):
            raise ValueError("not an attachment id")
        return self.prefix + attachment_id

    async def put(self, attachment_id: str, data: bytes, meta: StoredFile) -> None:
        # S3 metadata is ASCII only: the name travels percent-encoded.
        await asyncio.to_thread(self.client.put_object, Bucket=self.bucket, Key=self._key(attachment_id), Body=data,
                                ContentType=meta.content_type, Metadata={"name": quote(meta.name)})

    async def get(self, attachment_id: str) -> tuple[bytes, StoredFile] | None:
        return await asyncio.to_thread(self._get, self._key(attachment_id))

    def _get(self, key: str) -> tuple[bytes, StoredFile] | None:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        body = reply["Body"].read()
        name = unquote(reply.get("Metadata", {}).get("name", ""))
        return body, StoredFile(content_type=reply.get("ContentType") or "application/octet-stream", name=name)

    async def delete(self, attachment_id: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(attachment_id))

    async def close(self) -> None:
        if self._client is not None:
            await asyncio.to_thread(self._client.close)
