"""Reading a multipart upload (files with form fields) into checked values before anything is stored.

Every part is read whole (each file up to its channel's limit, the number of
files and the form fields bounded) and every file is checked against the
limits before the first one is stored: a request with one bad file stores
nothing. Used by ``POST /api/conversations/{id}/messages`` (agents) and the web
chat upload (visitors).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import BodyPartReader, web

from conversations.attachments import AttachmentRejected, Attachments
from conversations.errors import InvalidRequest
from conversations.models import Attachment

MAX_FILES = 10
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 20


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str | None, bytes]] = field(default_factory=list)  # (file name as sent, bytes)


async def read_upload(request: web.Request, attachments: Attachments, source: str,
                      file_fields: tuple[str, ...] = ("file", "files")) -> Upload:
    """The form fields and files of a ``multipart/form-data`` request, every file checked against ``source``'s limits.

    Raises:
        InvalidRequest: not multipart, malformed, too many parts, an unknown file field, a field not text.
        AttachmentRejected: a file too large (413, found while reading: the rest is never read) or of a
            type ``source`` does not take (415).
    """
    if not request.content_type.startswith("multipart/"):
        raise InvalidRequest("send the files as multipart/form-data")
    limit = attachments.limits[source].max_bytes
    upload = Upload()
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise InvalidRequest("nested multipart bodies are not accepted")
            name = part.name or ""
            if part.filename is not None:
                if name not in file_fields:
                    raise InvalidRequest(f"files go in the field {file_fields[0]!r}, not {name!r}")
                if len(upload.files) == MAX_FILES:
                    raise InvalidRequest(f"at most {MAX_FILES} files per message")
                data = await _read(part, limit)
                if data is None:
                    raise AttachmentRejected(f"the file {part.filename} is larger than the {limit} bytes "
                                             f"{source} takes", 413)
                upload.files.append((part.filename, data))
                continue
            if len(upload.fields) == MAX_FIELDS:
                raise InvalidRequest(f"at most {MAX_FIELDS} form fields")
            raw = await _read(part, MAX_FIELD_BYTES)
            if raw is None:
                raise InvalidRequest(f"the field {name!r} is longer than {MAX_FIELD_BYTES} bytes")
            try:
                value = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidRequest(f"the field {name!r} is not UTF-8 text") from None
            if "\x00" in value:
                raise InvalidRequest(f"the field {name!r} contains a NUL character")
            upload.fields[name] = value
    except (AttachmentRejected, InvalidRequest):
        raise
    except ValueError as error:  # aiohttp's own complaints about a malformed body
        raise InvalidRequest(f"the multipart body cannot be read: {error}") from None
    for file_name, data in upload.files:
        try:
            attachments.check(source, data)
        except AttachmentRejected as error:
            raise AttachmentRejected(f"{file_name}: {error}", error.status) from None
    return upload


async def _read(part: BodyPartReader, limit: int) -> bytes | None:
    """The part's decoded bytes, or None as soon as they pass ``limit``."""
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            return None
    if not part.headers.get("Content-Transfer-Encoding"):
        return bytes(data)
    decoded = bytes(part.decode(bytes(data)))  # base64 or quoted-printable, as old clients send
    return decoded if len(decoded) <= limit else None


async def store_all(attachments: Attachments, source: str, upload: Upload) -> tuple[Attachment, ...]:
    """Store the (already checked) files."""
    return tuple([await attachments.save(source, data, name) for name, data in upload.files])

