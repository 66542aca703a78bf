"""Attachment checks and storage: images and PDF only, recognised by their content (magic bytes), never by the
file name or the browser's content type; size and count limits; files kept under `settings.VAR_DIR`.

Storage is transactional: a file is written under a temporary name inside the complaint's transaction and renamed
to its final name only when the transaction commits (`transaction.on_commit`). If the service fails, the files it
wrote are removed at once; if an enclosing transaction rolls back later, only temporary files remain, and
`sweep_temporary` (run by `manage.py complaints_remind`) deletes those older than a day. So a complaint row never
exists without its files, and no file is kept for a complaint that was not stored.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.db import transaction

from doudi.core.errors import ApplicationError

MAX_FILES = 5
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 10 * 1024 * 1024
TEMP_PREFIX = ".tmp-"
TEMP_MAX_AGE_SECONDS = 24 * 3600

# (magic prefix, offset, content type, extension); WebP is RIFF....WEBP.
SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", ".png"),
    (b"GIF87a", 0, "image/gif", ".gif"),
    (b"GIF89a", 0, "image/gif", ".gif"),
    (b"WEBP", 8, "image/webp", ".webp"),
    (b"%PDF-", 0, "application/pdf", ".pdf"),
)


class Upload(Protocol):
    name: str | None
    size: int | None

    def chunks(self, chunk_size: int | None = None) -> Iterable[bytes]: ...

    def seek(self, pos: int) -> int: ...

    def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True)
class CheckedFile:
    upload: Upload
    name: str
    content_type: str
    extension: str
    size: int


def attachment_dir() -> Path:
    return Path(settings.VAR_DIR) / "complaints" / "attachments"


def _clean_name(raw: str | None, index: int) -> str:
    base = os.path.basename(str(raw or "").replace("\\", "/"))
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return base[-120:] or f"附件{index}"


def sniff(head: bytes) -> tuple[str, str] | None:
    for magic, offset, content_type, extension in SIGNATURES:
        if head[offset : offset + len(magic)] == magic and (offset == 0 or head[:4] == b"RIFF"):
            return content_type, extension
    return None


def check(files: Sequence[Upload]) -> list[CheckedFile]:
    """Every file's type, size and the count/total limits, before anything is written."""
    if len(files) > MAX_FILES:
        raise ApplicationError("too_many_files", f"附件最多{MAX_FILES}个", "attachments")
    checked: list[CheckedFile] = []
    total = 0
    for index, upload in enumerate(files, start=1):
        name = _clean_name(upload.name, index)
        size = int(upload.size or 0)
        if size == 0:
            raise ApplicationError("empty_file", f"附件“{name}”是空文件", "attachments")
        if size > MAX_FILE_BYTES:
            raise ApplicationError(
                "file_too_large", f"附件“{name}”超过{MAX_FILE_BYTES // (1024 * 1024)}MB", "attachments", status=413
            )
        total += size
        if total > MAX_TOTAL_BYTES:
            raise ApplicationError(
                "files_too_large", f"附件合计不能超过{MAX_TOTAL_BYTES // (1024 * 1024)}MB", "attachments", status=413
            )
        upload.seek(0)
        kind = sniff(upload.read(16))
        upload.seek(0)
        if kind is None:
            raise ApplicationError("file_type", f"附件“{name}”不是图片（JPEG、PNG、GIF、WebP）或PDF文件", "attachments")
        checked.append(CheckedFile(upload=upload, name=name, content_type=kind[0], extension=kind[1], size=size))
    return checked


@dataclass(frozen=True)
class Stored:
    stored_name: str
    sha256: str


def store(file: CheckedFile, written: list[Path]) -> Stored:
    """Write one checked file under a temporary name; it becomes final when the transaction commits.

    `written` collects the temporary paths so that the caller can remove them if its transaction fails."""
    directory = attachment_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16) + file.extension
    temp = directory / f"{TEMP_PREFIX}{stored_name}"
    digest = hashlib.sha256()
    written.append(temp)
    with temp.open("xb") as out:
        file.upload.seek(0)
        for chunk in file.upload.chunks():
            digest.update(chunk)
            out.write(chunk)
    temp.chmod(0o600)
    final = directory / stored_name
    transaction.on_commit(lambda: os.replace(temp, final))
    return Stored(stored_name=stored_name, sha256=digest.hexdigest())


def discard(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def path_of(stored_name: str) -> Path:
    return attachment_dir() / stored_name


def sweep_temporary(*, older_than: int = TEMP_MAX_AGE_SECONDS) -> int:
    """Delete temporary files left by transactions that never committed."""
    directory = attachment_dir()
    if not directory.is_dir():
        return 0
    limit = time.time() - older_than
    removed = 0
    for path in directory.glob(f"{TEMP_PREFIX}*"):
        if path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
