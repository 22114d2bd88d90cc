"""The document store: files on disk under a configurable root (an object
store later, behind the same three methods).

Keys are ``<application id>/<document id>``, both UUIDs we generated, so no
client-supplied name ever reaches the file system. A file is written to a
temporary name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

KEY = re.compile(r"^[0-9a-f-]{36}/[0-9a-f-]{36}$")


class DocumentStore:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        if not KEY.match(key):
            raise ValueError(f"not a document key: {key!r}")
        return self.root / key

    def put(self, key: str, content: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def count(self) -> int:
        """How many files are stored (tests check a refused upload stored nothing)."""
        if not self.root.exists():
            return 0
        return sum(1 for path in self.root.rglob("*") if path.is_file())
