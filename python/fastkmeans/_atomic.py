"""Atomic file writes: a reader sees the old file or the whole new one, never a part of it.

The bytes go to a temporary file in the target's own folder (a rename is atomic only within one
file system), are flushed and fsync'ed, and only then renamed over the target; the folder is
fsync'ed afterwards so that the rename itself survives a power cut. Any failure on the way (a full
disk, an fsync or rename error, Ctrl-C, an exception from the code producing the bytes) removes
the temporary file and leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import Iterable, Union

__all__ = ["TEMPORARY_SUFFIX", "write_atomically"]

# Temporary files are named ".<target>.<16 hex digits>.fastkmeans-tmp". Only a process killed
# outright (SIGKILL, power loss) between creating one and renaming it can leave one behind; it is
# never mistaken for a model and is safe to delete.
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
    try:
        # Opened inside the try: a Ctrl-C landing just after the file exists still removes it.
        # 0o666 less the umask, as for any new file (mkstemp would make it 0o600).
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with open(descriptor, "wb", closefd=True) as file:
            for chunk in chunks:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:  # KeyboardInterrupt included: no half-written file is left behind
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


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
