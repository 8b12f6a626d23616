"""Text files: CSV (SageMaker's ``text/csv``, parsed by pyarrow) and whitespace-separated columns.

The file is cut at line ends into segments of about ``SEGMENT_BYTES``; a small pool of threads
parses segments in parallel (pyarrow's CSV parser, or ``numpy.loadtxt`` for whitespace, both
release the GIL) while the caller consumes earlier ones, in file order. Memory stays at a few
segments whatever the file size. gzip files are decompressed on the fly.

One row per line: blank lines are skipped, a quoted value may not span lines. Errors name the file
and the line; where the parser's own message has no line, the failing segment is scanned again in
Python to find the first bad line (only on the error path).
"""

from __future__ import annotations

import collections
import gzip
import io
import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Callable, Deque, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from fastkmeans.io._batch import Batch, DataError, require_finite

__all__ = ["SEGMENT_BYTES", "read_text", "require_pyarrow"]

SEGMENT_BYTES = 4 << 20
"""Bytes of text parsed per task (the parser's working set, a few of which are in flight)."""

# pyarrow parses fastest in blocks that stay in cache: 1 MiB measured 1.4x faster than 8 MiB.
_BLOCK_BYTES = 1 << 20

Columns = Optional[Sequence[Union[int, str]]]


def require_pyarrow(what: str) -> Any:
    """Import pyarrow, or raise an ImportError that says what to install."""
    try:
        import pyarrow
    except ImportError:
        raise ImportError(f"Reading {what} needs pyarrow: pip install 'fastkmeans-sagemaker[io]' "
                          "(or pip install pyarrow).") from None
    return pyarrow


def _workers() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, 4))


def read_text(path: str, *, csv: bool, header: bool, label_size: int, columns: Columns,
              dtype: np.dtype, gzipped: bool) -> Iterator[Batch]:
    """Yield the rows of a CSV (``csv=True``) or whitespace-separated text file, in segments.

    Parameters
    ----------
    path : str
        The file.
    csv : bool
        Comma-separated (pyarrow) or whitespace-separated (numpy) columns.
    header : bool
        Whether the first non-blank line holds column names.
    label_size : int
        Leading columns to skip (SageMaker's ``text/csv;label_size=n``).
    columns : sequence of int or str, or None
        The columns to use (0-based positions, or names from the header); None: all but the labels.
    dtype : numpy dtype
        float32 or float64, the type of the rows.
    gzipped : bool
        Whether the file is gzip-compressed.

    Yields
    ------
    Batch
        Rows with the line of each, in file order.
    """
    opener: Callable[..., IO[bytes]] = gzip.open if gzipped else open  # type: ignore[assignment]
    with opener(path, "rb") as file:
        segments = _segments(file)
        head, more = next(segments, (b"", False))
        names, head, skipped = _split_header(head, csv, header)
        while not head.strip() and more:  # the header or blank lines filled the first segment
            following, more = next(segments, (b"", False))
            head += following
        if not head.strip():
            raise DataError(f"{path} has a header row but no data." if names else f"{path} is empty.")
        n_columns = len(names) if names else len(_fields(_first_line(head), csv))
        selected = _select(path, columns, names, n_columns, label_size)
        parse = _csv_parser(n_columns, selected, dtype) if csv else _text_parser(selected, dtype)

        def task(segment: bytes) -> Tuple[np.ndarray, int]:
            # Lines are counted here, not by the caller: numpy releases the GIL, bytes.count holds it.
            return parse(segment), int(np.count_nonzero(np.frombuffer(segment, dtype=np.uint8) == ord("\n")))

        def finish(future: Future[Tuple[np.ndarray, int]], segment: bytes, line: int) -> Tuple[Optional[Batch], int]:
            return _finish(path, future, segment, line, csv=csv, n_columns=n_columns, selected=selected, header=header)

        yield from _in_parallel(_chain(head, more, segments), task, finish, first_line=1 + skipped)


def _in_parallel(segments: Iterator[Tuple[bytes, bool]], task: Callable[[bytes], Tuple[np.ndarray, int]],
                 finish: Callable[..., Tuple[Optional[Batch], int]], first_line: int) -> Iterator[Batch]:
    """Parse segments on a pool of threads, a few ahead of the caller, and yield them in order."""
    line = first_line
    workers = _workers()
    with ThreadPoolExecutor(workers, thread_name_prefix="fastkmeans-read") as pool:
        in_flight: Deque[Tuple[Future[Tuple[np.ndarray, int]], bytes]] = collections.deque()
        try:
            for segment, _ in segments:
                in_flight.append((pool.submit(task, segment), segment))
                # Keep every worker busy while the caller trains; hand over what is parsed.
                while len(in_flight) > workers or (in_flight and in_flight[0][0].done()):
                    batch, line = finish(*in_flight.popleft(), line)
                    if batch is not None:
                        yield batch
            while in_flight:
                batch, line = finish(*in_flight.popleft(), line)
                if batch is not None:
                    yield batch
        finally:
            for future, _ in in_flight:
                future.cancel()


def _segments(file: IO[bytes]) -> Iterator[Tuple[bytes, bool]]:
    """Cut the stream after a line end about every SEGMENT_BYTES; yield (segment, more_follow)."""
    carry = b""
    while True:
        chunk = file.read(SEGMENT_BYTES)
        if not chunk:
            if carry:
                yield carry, False
            return
        end = chunk.rfind(b"\n")
        if end < 0:  # a line longer than a segment: keep reading
            carry += chunk
            continue
        yield (b"".join((carry, memoryview(chunk)[:end + 1])) if carry or end + 1 < len(chunk) else chunk), True
        carry = chunk[end + 1:]


def _chain(data: bytes, more: bool, rest: Iterator[Tuple[bytes, bool]]) -> Iterator[Tuple[bytes, bool]]:
    yield data, more
    yield from rest


def _split_header(segment: bytes, csv: bool, header: bool) -> Tuple[Optional[List[str]], bytes, int]:
    """Return (header names or None, the data after them, lines before the data)."""
    if not header:
        return None, segment, 0
    offset = 0
    while offset < len(segment):
        end = segment.find(b"\n", offset)
        end = len(segment) if end < 0 else end
        text = segment[offset:end].decode("utf-8", "replace").strip()
        if text:
            names = [name.strip().strip('"') for name in _fields(text, csv)]
            return names, segment[end + 1:], segment.count(b"\n", 0, min(end + 1, len(segment)))
        offset = end + 1
    return None, b"", 0


def _first_line(data: bytes) -> str:
    for raw in data.split(b"\n", 64):
        text = raw.decode("utf-8", "replace").strip()
        if text:
            return text
    return data.decode("utf-8", "replace").strip()


def _fields(text: str, csv: bool) -> List[str]:
    return text.split(",") if csv else text.split()


def _select(path: str, columns: Columns, names: Optional[List[str]], n_columns: int, label_size: int) -> List[int]:
    """Return the 0-based columns to read."""
    if columns is None:
        if label_size >= n_columns:
            raise DataError(f"{path}: label_size={label_size} leaves no feature column of its {n_columns}.")
        return list(range(label_size, n_columns))
    selected = []
    for column in columns:
        if isinstance(column, str):
            if names is None:
                raise ValueError(f"Column {column!r} chosen by name, but {path} is read without a header "
                                 "(pass header=True, or choose columns by position).")
            if column not in names:
                raise DataError(f"{path} has no column {column!r}; its columns are {names}.")
            selected.append(names.index(column))
        elif isinstance(column, (int, np.integer)) and 0 <= column < n_columns:
            selected.append(int(column))
        else:
            raise DataError(f"{path}: column {column!r} is not a position in 0..{n_columns - 1}.")
    if not selected:
        raise ValueError("columns is empty: choose at least one column.")
    return selected


def _csv_parser(n_columns: int, selected: List[int], dtype: np.dtype) -> Callable[[bytes], np.ndarray]:
    pa = require_pyarrow("CSV")
    from pyarrow import csv as pacsv

    names = [f"f{j}" for j in range(n_columns)]
    include = [names[j] for j in selected]
    value_type = pa.float32() if dtype == np.float32 else pa.float64()
    read_options = pacsv.ReadOptions(column_names=names, use_threads=False, block_size=_BLOCK_BYTES)
    parse_options = pacsv.ParseOptions(delimiter=",", newlines_in_values=False, ignore_empty_lines=True)
    # Typed columns: a non-numeric cell is an error, not a string column. No null values: an empty
    # cell is an error too, and "nan" is NaN (refused later, with its line).
    convert_options = pacsv.ConvertOptions(column_types={name: value_type for name in include}, include_columns=include,
                                           null_values=[], strings_can_be_null=False,
                                           quoted_strings_can_be_null=False)

    def parse(segment: bytes) -> np.ndarray:
        table = pacsv.read_csv(pa.py_buffer(segment), read_options=read_options, parse_options=parse_options,
                               convert_options=convert_options)
        rows = np.empty((table.num_rows, len(include)), dtype=dtype)
        offset = 0
        for batch in table.to_batches():
            block = np.asarray(batch.to_tensor(row_major=True))
            rows[offset:offset + len(block)] = block
            offset += len(block)
        return rows

    return parse


def _text_parser(selected: List[int], dtype: np.dtype) -> Callable[[bytes], np.ndarray]:
    def parse(segment: bytes) -> np.ndarray:
        rows = np.loadtxt(io.StringIO(segment.decode("utf-8", "replace")), dtype=dtype, comments=None, ndmin=2)
        if rows.shape[0] == 0:
            return rows.reshape(0, len(selected))
        return np.ascontiguousarray(rows[:, selected])

    return parse


def _finish(path: str, future: Future[Tuple[np.ndarray, int]], segment: bytes, line: int, *, csv: bool,
            n_columns: int, selected: List[int], header: bool) -> Tuple[Optional[Batch], int]:
    """Return the parsed segment as a Batch (None if blank) and the next segment's first line.

    Or raise the parser's error, located at its line.
    """
    try:
        rows, newlines = future.result()
    except ValueError as error:  # pyarrow's ArrowInvalid is one, as are numpy's parse errors
        found = _locate(segment, line, csv=csv, n_columns=n_columns, selected=selected)
        if found is not None:
            bad_line, reason = found
            hint = " (if the file starts with a header row, pass header=True)" if bad_line == 1 and not header else ""
            raise DataError(f"{path}, line {bad_line}{reason}{hint}") from None
        last = line + max(segment.count(b"\n") - 1, 0)
        raise DataError(f"{path}, lines {line} to {last}: {error}") from None
    if rows.shape[0] == 0:
        return None, line + newlines
    lines = None
    if rows.shape[0] != newlines + (not segment.endswith(b"\n")):
        lines = _data_lines(segment, line)  # blank lines: rows and lines no longer follow one another
    batch = Batch(rows, path, int(lines[0]) if lines is not None else line, "line", lines)
    require_finite(rows, batch.where)
    return batch, line + newlines


def _data_lines(segment: bytes, line: int) -> np.ndarray:
    """Return the line number of every non-blank line of a segment (vectorised: blank lines are rare)."""
    buffer = np.frombuffer(segment, dtype=np.uint8)
    ends = np.flatnonzero(buffer == ord("\n"))
    if not segment.endswith(b"\n"):
        ends = np.append(ends, len(segment))
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts
    has_cr = (lengths > 0) & (buffer[np.maximum(ends - 1, 0)] == ord("\r"))
    blank = (lengths - has_cr) == 0
    # A line of spaces is not blank to the parsers, so a vectorised test of length suffices.
    return line + np.flatnonzero(~blank)


def _locate(segment: bytes, line: int, *, csv: bool, n_columns: int, selected: List[int]) -> Optional[Tuple[int, str]]:
    """Find the first line of a segment that the parser would refuse, and say why."""
    for offset, raw in enumerate(segment.split(b"\n")):
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            continue
        fields = _fields(text, csv)
        if len(fields) != n_columns:
            return line + offset, f": {len(fields)} columns, but the file's first row has {n_columns}"
        for j in selected:
            cell = fields[j].strip()
            if csv and len(cell) >= 2 and cell[0] == cell[-1] == '"':
                cell = cell[1:-1].strip()
            try:
                float(cell)
            except ValueError:
                what = " (an empty cell)" if not cell else ""
                return line + offset, f", column {j + 1}: {cell!r} is not a number{what}"
    return None
