"""Atomic file writes: a reader sees the old file or the whole new one, never a part of it.

The bytes go to a temporary file in the target's own folder (a rename is atomic only within one
file system; on Linux the file has no name at all until it is complete), are flushed and fsync'ed,
and only then renamed over the target; the folder is
fsync'ed afterwards so that the rename itself survives a power cut. Any failure on the way (a full
disk, an fsync or rename error, Ctrl-C, an exception from the code producing the bytes) removes
the temporary file and leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from typing import BinaryIO, Iterable, Optional, Union

__all__ = ["TEMPORARY_SUFFIX", "write_atomically"]

# Temporary files are named ".<target>.<16 hex digits>.fastkmeans-tmp". On Linux the file gets
# that name only once it is complete, just before the rename; elsewhere (or on a file system
# without O_TMPFILE) it has it from the start. Only a process killed outright (SIGKILL, power loss)
# while a file has that name can leave one behind; it is never mistaken for a model and is safe to
# delete.
TEMPORARY_SUFFIX = ".fastkmeans-tmp"

PathLike = Union[str, "os.PathLike[str]"]


def write_atomically(path: PathLike, chunks: Iterable[Union[bytes, bytearray, memoryview]]) -> None:
    """Write the concatenated ``chunks`` to ``path``, replacing it atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace; its folder must exist.
    chunks : iterable of bytes-like
        The content, in order. It is consumed while the temporary file is open, so an exception
        it raises is handled like a failed write.

    Raises
    ------
    OSError
        When the temporary file cannot be created, written, fsync'ed or renamed (the target is
        unchanged and the temporary file removed).

    Examples
    --------
    >>> import os, tempfile
    >>> from fastkmeans._atomic import write_atomically
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target = os.path.join(folder, "model.bin")
    ...     write_atomically(target, [b"new ", b"bytes"])
    ...     print(open(target, "rb").read(), os.listdir(folder))
    b'new bytes' ['model.bin']
    """
    target = os.path.abspath(os.fspath(path))
    folder, base = os.path.split(target)
    temporary = os.path.join(folder, f".{base}.{secrets.token_hex(8)}{TEMPORARY_SUFFIX}")
    named = renamed = False
    try:
        # Opened inside the try: a Ctrl-C landing just after the file exists still removes it.
        # Where the OS can (Linux), the file has no name while it is written: a process killed
        # outright mid-write leaves nothing behind. 0o666 less the umask, as for any new file.
        descriptor = _open_unnamed(folder)
        if descriptor is None:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            named = True
        # Unnamed, it is opened for reading too: a fallback copies it back out (see _name).
        with open(descriptor, "wb" if named else "r+b", closefd=True) as file:
            for chunk in chunks:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
            if not named:
                # The complete file gets its temporary name only now, just before the rename.
                _name(file, temporary)
                named = True
                os.replace(temporary, target)
                renamed = True
        if not renamed:
            os.replace(temporary, target)
    except BaseException:  # KeyboardInterrupt included: no half-written file is left behind
        # Whether or not the name was given yet: a Ctrl-C can land between the link (or the named
        # open) and the line that records it, and the random name is this call's alone, so
        # removing it when it does not exist is harmless (and after the rename it is gone).
        if not renamed:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise
    _fsync_folder(folder)


def _open_unnamed(folder: str) -> Optional[int]:
    """Open a new file in ``folder`` that has no name yet (Linux's O_TMPFILE).

    Returns None where the OS or the file system cannot (the caller then writes to a named
    temporary file).
    """
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(folder, flag | os.O_RDWR, 0o666)
    except OSError:  # EOPNOTSUPP, EISDIR or EINVAL: a file system without unnamed files
        return None


def _name(file: BinaryIO, temporary: str) -> None:
    """Give the complete unnamed ``file`` the name ``temporary``.

    linkat(2) through /proc with AT_SYMLINK_FOLLOW, or, where that is refused, a named copy of its
    bytes, fsync'ed.
    """
    folder, name = os.path.split(temporary)
    directory = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        # A dir_fd makes Python call linkat(2), which follows /proc's link to the open file.
        os.link(f"/proc/self/fd/{file.fileno()}", name, dst_dir_fd=directory, follow_symlinks=True)
        return
    except OSError:
        pass
    finally:
        os.close(directory)
    file.seek(0)
    copy = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(copy, "wb", closefd=False) as named:
            shutil.copyfileobj(file, named)
            named.flush()
            os.fsync(copy)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    finally:
        os.close(copy)


def _fsync_folder(folder: str) -> None:
    """Make the rename durable.

    The new file is already complete at its name, so a folder that cannot be fsync'ed (Windows,
    some network file systems) costs durability only, not integrity.
    """
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, flags)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
