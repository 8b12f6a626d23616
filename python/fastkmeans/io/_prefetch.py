"""Read ahead on a background thread, so that parsing the next block overlaps training on this one.

Used for the readers that parse sequentially (.npy, Parquet, RecordIO); the CSV reader has its own
pool. The readers spend their time in C (reads, numpy, pyarrow), which releases the GIL, so the
thread runs while the caller is in the Rust core.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator, Tuple, TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")

_ITEM, _END, _ERROR = 0, 1, 2


def prefetch(make_iterator: Callable[[], Iterator[T]], depth: int = 2) -> Iterator[T]:
    """Yield the items of ``make_iterator()``, produced on a background thread up to ``depth`` ahead.

    Items and the producer's exception, if any, arrive in order. When the consumer stops early
    (an error, Ctrl-C, ``close()``), the producer stops after its current item and closes its
    iterator.

    Parameters
    ----------
    make_iterator : callable
        Called once, on the background thread.
    depth : int, default=2
        Items read ahead at most (each is a block of rows: the memory bound).

    Yields
    ------
    object
        The items, in order.

    Examples
    --------
    >>> from fastkmeans.io._prefetch import prefetch
    >>> list(prefetch(lambda: iter(range(5))))
    [0, 1, 2, 3, 4]
    """
    items: queue.Queue[Tuple[int, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(message: Tuple[int, object]) -> bool:
        while not stop.is_set():
            try:
                items.put(message, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = None
        try:
            iterator = make_iterator()
            for item in iterator:
                if not put((_ITEM, item)):
                    return
            put((_END, None))
        except BaseException as error:  # handed to the consumer, which raises it in its own thread
            put((_ERROR, error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="fastkmeans-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = items.get()
            if kind == _ITEM:
                yield value  # type: ignore[misc]
            elif kind == _END:
                return
            else:
                assert isinstance(value, BaseException)
                raise value
    finally:
        stop.set()
