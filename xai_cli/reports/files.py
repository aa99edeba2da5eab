"""Writing a set of output files all or nothing, with the permissions the user's umask gives.

Every command that writes files (``xai explain``'s reports, ``xai run``'s job folders and batch
index, ``xai audit`` and ``xai diff`` outputs) goes through :func:`write_files`, so a full disk, a
read-only folder or a permission problem ends the same way everywhere: one
``error[output]: cannot write ...: no space left on device`` line (an :class:`OutputError`, exit
code 2), and the files that were there before left exactly as they were.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

from xai_cli.errors import OutputError, describe

_CAUSES: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on device", "free space on that disk, or pass another --out"),
    errno.EDQUOT: ("disk quota exceeded", "free space within your quota, or pass another --out"),
    errno.EROFS: ("read-only file system", "pass an --out folder on a writable file system"),
    errno.EACCES: ("permission denied", "pass an --out folder you can write to"),
    errno.EPERM: ("permission denied", "pass an --out folder you can write to"),
    errno.EISDIR: ("a folder is in the way of a file", "remove that folder or pass another --out"),
    errno.ENOTDIR: ("a file is in the way of a folder", "remove that file or pass another --out"),
    errno.EEXIST: ("a file is in the way of a folder", "remove that file or pass another --out"),
    errno.EFBIG: ("file too large for that file system", "pass an --out folder on another disk"),
    errno.EIO: ("input/output error", "check the disk, or pass another --out"),
    errno.ENAMETOOLONG: ("file name too long", "pass a shorter --out path"),
}
"""What each errno means to a user, and what to do about it."""

_TMP_SUFFIX = ".tmp"
_NAME_ROOM = 200
"""Characters of the target's name kept in a temporary's name (a name is at most 255 bytes)."""


def output_error(
    exc: OSError, what: str, folder: Path, target: Path | None = None, note: str = ""
) -> OutputError:
    """An :class:`OutputError` for ``exc``, met writing ``what`` (e.g. ``"the reports"``) into
    ``folder``: the message names the cause (no space left, read-only file system, ...) and ends
    with ``note``; the ``cause:`` line gives the errno and the file or folder (``target``)."""
    cause, hint = _CAUSES.get(exc.errno or -1, (None, "pass another --out"))
    code = errno.errorcode.get(exc.errno or -1)
    if cause is None:
        cause = (exc.strerror or describe(exc)).lower()
    detail = f"{code} (errno {exc.errno})" if code else describe(exc)
    return OutputError(
        f"cannot write {what} to {folder}: {cause}{note}",
        cause=f"{detail} on {target or exc.filename or folder}",
        hint=hint,
    )


def write_files(
    files: Mapping[Path, str | bytes], what: str = "the reports", shown: Path | None = None
) -> list[Path]:
    """Write every file of ``files`` (path -> text or bytes), all or nothing; returns the paths.

    An error names ``what`` and the folder ``shown`` (default: the folder holding the files).

    1. Every text is encoded (UTF-8) before any file is touched.
    2. Missing folders are created; a target that is a folder is refused.
    3. Each file is written in full to a temporary ``.<name>.<random>.tmp`` in its own target
       folder, flushed to disk with ``fsync``. If any of this fails (no space left, read-only
       file system, permission denied, ...), every temporary and every folder this call created
       are removed and an :class:`OutputError` naming the cause is raised: the previous files are
       untouched and no new file is in place.
    4. Only then is each temporary renamed onto its target (``os.replace``), and the folders are
       flushed so the renames survive a crash.

    The remaining window is step 4. A rename within one folder needs no new data blocks, so it
    does not fail for lack of space, but it can still fail for other reasons (an I/O error, the
    file system remounted read-only, a folder put in a file's place meanwhile), and a crash or
    power cut can stop the loop: then the files renamed so far are new and the others old. The
    temporaries left are removed and the error says so; no file is ever half-written.

    New files and folders get the permissions the user's umask gives (``0o666`` and ``0o777``
    masked by it), as any other program's output does, so reports can be shared as the user's
    other files are; a replaced file takes the new file's permissions.
    """
    encoded = {Path(p): t.encode("utf-8") if isinstance(t, str) else t for p, t in files.items()}
    if not encoded:
        return []
    folder = shown or Path(os.path.commonpath([p.parent for p in encoded]))
    created: list[Path] = []
    temporaries: dict[Path, Path] = {}
    try:
        for path in encoded:
            try:
                created += _make_folders(path.parent)
            except OSError as exc:
                raise output_error(exc, what, folder, Path(exc.filename or path.parent)) from exc
            if path.is_dir():
                error = IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
                raise output_error(error, what, folder, path)
        for path, data in encoded.items():
            try:
                temporaries[path] = _write_temporary(path, data)
            except OSError as exc:
                raise output_error(exc, what, folder, path) from exc
    except BaseException:
        _discard(temporaries.values(), created)
        raise
    renamed = 0
    try:
        for path, tmp in temporaries.items():
            try:
                os.replace(tmp, path)
            except OSError as exc:
                note = f" ({renamed} of {len(encoded)} files already replaced)" if renamed else ""
                raise output_error(exc, what, folder, path, note) from exc
            renamed += 1
    except BaseException:
        _discard(list(temporaries.values())[renamed:], [])
        raise
    for parent in dict.fromkeys(path.parent for path in encoded):
        _sync_folder(parent)
    return list(encoded)


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns the ones created, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    made = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:  # made by someone else meanwhile: fine if it is a folder
            if not path.is_dir():
                raise
            continue
        made.append(path)
    return made


def _write_temporary(path: Path, data: bytes) -> Path:
    """Write ``data`` to a new temporary beside ``path`` and fsync it; returns its path."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = path.with_name(f".{path.name[:_NAME_ROOM]}.{secrets.token_hex(4)}{_TMP_SUFFIX}")
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask decides the final mode
            break
        except FileExistsError:
            continue
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        os.close(fd)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _discard(temporaries: Iterable[Path], folders: list[Path]) -> None:
    """Remove temporaries, then the folders this call created (innermost first, if empty)."""
    for tmp in temporaries:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _sync_folder(folder: Path) -> None:
    """fsync a folder so the renames in it are on disk (best effort: not every OS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)
