"""Ctrl-C during a checkpointed fit: stop at the next safe point, never halfway through writing the checkpoint.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be
when SIGINT arrives: inside Keras' ``BackupAndRestore`` writing the weights
(a truncated ``latest.weights.h5``: the resume then failed with "expected 7
variables, but received 0", once in 7 runs of the SIGINT test,
tests/test_resume.py), between the weight backup and the monitor's state (a
backup of one epoch with the monitor of another), or inside a finalizer,
where Python prints "Exception ignored" and the interrupt is lost.

Within ``deferred_interrupts()`` the first SIGINT is only recorded; the
``SafeInterrupt`` callback, last in the callback list, raises
``KeyboardInterrupt`` at the next batch end (the checkpoint of the last
evaluation stays whole) or after every other callback at an epoch end (the
new checkpoint is whole). A second Ctrl-C raises at once, for a user who
wants out now. Outside the main thread (where Python cannot set signal
handlers), or where SIGINT is ignored or handled by someone else (the
workers of ``neep reproduce --jobs`` ignore it), nothing changes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import keras

__all__ = ["PendingInterrupt", "SafeInterrupt", "deferred_interrupts"]


class PendingInterrupt:
    """Whether a SIGINT arrived and still has to be raised (``requested``), and raising it once."""

    def __init__(self) -> None:
        self.requested = False

    def raise_if_requested(self) -> None:
        if self.requested:
            self.requested = False
            raise KeyboardInterrupt


class SafeInterrupt(keras.callbacks.Callback):
    """Raise a deferred Ctrl-C at a batch or epoch end; put it after every callback that writes a checkpoint."""

    def __init__(self, pending: PendingInterrupt) -> None:
        super().__init__()
        self.pending = pending

    def on_train_batch_end(self, batch, logs=None):
        self.pending.raise_if_requested()

    def on_epoch_end(self, epoch, logs=None):
        self.pending.raise_if_requested()


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[PendingInterrupt]:
    """Record the first SIGINT instead of raising it (see the module doc); raise it at the latest on leaving.

    Yields
    ------
    PendingInterrupt
        Hand it to a ``SafeInterrupt`` callback.
    """
    pending = PendingInterrupt()
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:  # ignored (a reproduce worker) or someone else's handler
        yield pending
        return

    def record(signum, frame):
        if pending.requested:  # the second Ctrl-C: now
            pending.requested = False
            raise KeyboardInterrupt
        pending.requested = True

    signal.signal(signal.SIGINT, record)
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, previous)
    pending.raise_if_requested()  # arrived after the last safe point
