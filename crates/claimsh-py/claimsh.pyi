"""Python workers on a claimsh claim ledger.

Many workers on many machines split one list of items through a state directory on a shared
filesystem. Python processes using this module and ``claimsh`` processes running Rhai scripts
share one ledger: open the directory the script uses, ``<script dir>/.claimsh/<script stem>/``
(or its ``--state``).

    import claimsh
    ledger = claimsh.Ledger("analysis/.claimsh/segment")
    for path in ledger.claimed(sorted(glob.glob("images/*.tif"))):
        analyse(path)                      # done when the loop body ends

Claims are kept alive by a Rust heartbeat thread while Python computes; the GIL is released
around every filesystem call. A worker that dies is taken over after the lease.
"""

import os
from typing import Any, Callable, Generic, Iterable, Iterator, Optional, TypeVar, Union

_T = TypeVar("_T")
_R = TypeVar("_R")
_Path = Union[str, "os.PathLike[str]"]
_Key = Union[str, "os.PathLike[str]", Any]

__version__: str
FORMAT: str
"""The on-disk ledger format this module reads and writes (``claim-ledger 2``)."""

class ClaimshError(RuntimeError):
    """A ledger operation failed: I/O, a claim lost to a takeover, or misuse (``done()`` on an
    item this process does not hold)."""

class Ledger:
    """A claim ledger in a state directory (created if needed).

    ``lease`` (seconds): how long a worker may go without a heartbeat before others take its
    claims over; heartbeats run every quarter lease. ``host``: the name written into claims
    (default ``$CLAIMSH_HOST``, else the kernel's host name). ``retry_failed``: claim items whose
    last attempt failed instead of skipping them.

    Keys are ``str(item)``: a ``pathlib.Path`` and its string are the same item, in Python and in
    Rhai. Open one ``Ledger`` per process (not before ``fork``). Used as a context manager, it
    releases what it still holds on exit (so does ``close()``, and an ``atexit`` hook).
    """

    def __init__(
        self,
        state_dir: _Path,
        lease: float = 60,
        host: Optional[str] = None,
        retry_failed: bool = False,
    ) -> None: ...
    @property
    def state_dir(self) -> str: ...
    @property
    def lease(self) -> float: ...
    @property
    def host(self) -> str: ...
    def claim(self, key: _Key, output: Optional[_Path] = None) -> bool:
        """Try to claim ``key``: true for exactly one worker anywhere. False when it is done,
        failed (unless ``retry_failed``), or held by a live worker. With ``output``, an existing
        file at that path means the item is done (checked again after winning). A won item must
        be finished with ``done``, ``fail`` or ``release``."""
    def done(self, key: _Key) -> None:
        """Publish a claimed item (or the current item of a ``claimed`` loop) as done: nobody
        will redo it. Raises ``ClaimshError`` if this process does not hold it."""
    def fail(self, key: _Key, reason: str) -> None:
        """Record a claimed item as failed with ``reason`` (skipped by everyone unless they
        retry failed items; shown by ``claimsh status``)."""
    def release(self, key: _Key) -> None:
        """Give a claimed item back unfinished; anyone may claim it again."""
    def holds(self, key: _Key) -> bool:
        """Whether this process holds ``key`` (claimed, or the current item of a loop)."""
    def claimed(
        self,
        items: Iterable[_T],
        output: Optional[Callable[[_T], _Path]] = None,
        wait: bool = True,
    ) -> "Claimed[_T]":
        """Iterate over the items this process wins, exactly as ``claimed(items)`` in Rhai: the
        list is claimed in blocks of pending items (one claim file per block), items done
        anywhere (alone or in any list) are skipped, and Python and Rhai workers given the same
        list split it.

        An item is done when the loop body ends and the next item is asked for (or call
        ``done``/``fail`` yourself). If the loop is left early — ``break``, an exception,
        ``KeyboardInterrupt`` — the items finished so far are published and the rest, the
        current one included, go back to the ledger. Wrap the body in ``with ledger.item(x):``
        to record an exception as the item's failure.

        ``output(item)`` gives an item's output file; an existing one means done. With ``wait``
        (as ``claimsh`` does), when a pass met items held by other workers the iterator waits
        until no claim is live or one lease has passed, then walks again — so the items of a
        worker that died are taken over and done here."""
    def item(self, key: _Key, output: Optional[_Path] = None) -> "Item":
        """A context manager: ``with ledger.item(key) as won:`` claims ``key`` (``won`` tells
        whether this process got it). If won, a normal exit marks it done; an ``Exception``
        marks it failed with the exception's type, message and traceback tail, and propagates;
        ``KeyboardInterrupt``/``SystemExit`` release it. Inside a ``claimed`` loop,
        ``ledger.item(current)`` records the outcome of the loop's current item."""
    def all_done(self, items: Iterable[_Key]) -> bool:
        """Whether every item is done, alone or in blocks (re-reads the ledger)."""
    def once(self, name: str, fn: Callable[[], _R]) -> Optional[_R]:
        """Run ``fn()`` exactly once across every worker of this state directory, Python or
        ``claimsh`` (``once(name, ...)`` in Rhai is the same step); the others wait for it.
        Returns ``fn``'s result where it ran, ``None`` elsewhere. Raises ``ClaimshError`` if
        it failed on another worker."""
    def status(self) -> dict[str, Any]:
        """What the ledger holds, with the keys of ``claimsh status --json``: ``done``,
        ``running``, ``stale``, ``failed``, ``total``, ``pending``, ``items_per_second``,
        ``eta_seconds``, ``claims``, ``failures``, ``lists`` (and ``once`` once a step ran)."""
    def close(self) -> None:
        """Release every claim and block this ledger holds (finished items are kept)."""
    def __enter__(self) -> "Ledger": ...
    def __exit__(self, *args: Any) -> bool: ...

class Claimed(Generic[_T], Iterator[_T]):
    """The iterator ``Ledger.claimed`` returns."""

    def __iter__(self) -> "Claimed[_T]": ...
    def __next__(self) -> _T: ...
    def __len__(self) -> int:
        """Number of items in the list (not only those this process will win)."""
    def close(self) -> None:
        """Stop early: finished items are published, the rest go back to the ledger."""

class Item:
    """The context manager ``Ledger.item`` returns."""

    def __enter__(self) -> bool: ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...
