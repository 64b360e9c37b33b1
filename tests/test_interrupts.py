"""Ctrl-C during a checkpointed fit waits for a safe point (estimators/interrupts.py).

Real signals to this process (os.kill); the end-to-end test with a `neep fit`
subprocess is tests/test_resume.py (slow).
"""

import os
import signal

import numpy as np
import pytest

from neep.estimators.training.interrupts import SafeInterrupt, deferred_interrupts


@pytest.fixture(autouse=True)
def python_sigint():
    # Python's own Ctrl-C handler for each test: a pytest started in the background by a
    # non-interactive shell (`pytest &`, nohup, some CI runners) ignores SIGINT.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)


def test_first_ctrl_c_waits_for_the_safe_point_and_a_second_one_does_not():
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts() as pending:
            _ctrl_c()
            assert pending.requested  # recorded, not raised: the code here runs on
            with pytest.raises(KeyboardInterrupt):
                pending.raise_if_requested()
            assert not pending.requested
            _ctrl_c()
            _ctrl_c()  # the second raises at once (and leaves nothing pending)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_after_the_last_safe_point_is_raised_on_leaving():
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            _ctrl_c()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_sigint_stays_ignored():
    # the workers of `neep reproduce --jobs` ignore SIGINT: their parent stops them
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with deferred_interrupts() as pending:
            _ctrl_c()
            assert not pending.requested
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_keras_fit_stops_after_the_checkpoint_callbacks_of_the_epoch(tmp_path):
    import keras

    written = []

    class Writer(keras.callbacks.Callback):  # a checkpoint writer hit by Ctrl-C as it starts writing
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                _ctrl_c()
            path = tmp_path / f"epoch{epoch}.txt"
            path.write_text("x" * 1000)
            written.append(epoch)

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x, y = np.zeros((8, 2), np.float32), np.zeros((8, 1), np.float32)
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts() as pending:
            model.fit(x, y, epochs=5, batch_size=4, verbose=0, callbacks=[Writer(), SafeInterrupt(pending)])
    assert written == [0, 1]  # the interrupted epoch's write finished; no epoch after it ran
    assert (tmp_path / "epoch1.txt").read_text() == "x" * 1000
