"""Whether a folder can be written or created, checked before a command starts work it would have to throw away."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def folder_problem(folder: str | Path) -> str | None:
    """What stops `folder` from being created or written ("exists and is not a folder", "cannot be created in
    /x: Permission denied", ...), or None. Tried by making (and removing) an empty folder where it would go,
    since permission bits do not tell for root or a read-only mount; nothing is left behind."""
    path = Path(folder).expanduser().absolute()
    if path.exists() and not path.is_dir():
        return "exists and is not a folder"
    where = path
    while not where.exists():
        where = where.parent
    if not where.is_dir():
        return f"cannot be created: {where} is not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".rlef-write-check-", dir=where))
    except OSError as error:
        if where == path:
            return f"is not writable: {error.strerror}"
        return f"cannot be created in {where}: {error.strerror}"
    return None
