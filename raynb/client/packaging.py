"""Zip a local directory the way Ray's runtime_env expects (working_dir, py_modules)."""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import zipfile
from pathlib import Path

from ..errors import BadRequestError

MAX_PACKAGE_BYTES = 100 * 1024 * 1024
ALWAYS_EXCLUDED = (".git", "__pycache__", ".ipynb_checkpoints", ".venv", "node_modules")


def _excluded(rel: str, name: str, excludes: list[str]) -> bool:
    return name in ALWAYS_EXCLUDED or any(
        fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(name, pat) for pat in excludes
    )


def build_package(
    directory: str | os.PathLike[str], excludes: list[str] | None = None, *, include_parent: bool = False
) -> tuple[str, bytes]:
    """Return ``(package_name, zip_bytes)`` for ``directory``; the name hashes the content.

    ``include_parent`` keeps the directory itself as the zip's top folder (py_modules).
    """
    root = Path(directory).expanduser().resolve()
    if not root.is_dir():
        raise BadRequestError(f"working directory {str(directory)!r} does not exist or is not a folder")
    excludes = list(excludes or [])
    digest = hashlib.sha1(b"raynb-pkg-v1" + (root.name.encode() if include_parent else b""))
    buffer = io.BytesIO()
    size = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, dirs, files in os.walk(root):
            rel_folder = Path(folder).relative_to(root)
            dirs[:] = sorted(d for d in dirs if not _excluded(str(rel_folder / d), d, excludes))
            for name in sorted(files):
                rel = rel_folder / name
                if _excluded(str(rel), name, excludes):
                    continue
                data = (Path(folder) / name).read_bytes()
                size += len(data)
                if size > MAX_PACKAGE_BYTES:
                    raise BadRequestError(
                        f"{root} holds more than {MAX_PACKAGE_BYTES // 2**20} MiB: "
                        "exclude large files with runtime_env excludes"
                    )
                arcname = str(Path(root.name) / rel) if include_parent else str(rel)
                digest.update(arcname.encode() + b"\0" + hashlib.sha1(data).digest())
                archive.writestr(arcname, data)
    return f"_ray_pkg_{digest.hexdigest()}.zip", buffer.getvalue()
