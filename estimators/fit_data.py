"""The data of one ``NEEP.fit``: training, validation and held-out parts, input statistics, monitor subsets.

``prepare_fit(est, data, test)`` does everything ``fit`` needs before the
first network is built: it splits off the held-out part (unless ``test`` is
given), checks that the model kind and the window length fit the data,
codes the held-out labels like the training ones, draws the input
statistics, sets the validation part aside from the training part (model
selection must not see the data the estimate is measured on) and draws the
fixed subsets the monitors evaluate. It returns the training and held-out
parts and the context dict every seed's training reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .callbacks import held_out_subset
from .data import Trajectories
from .labels import labels_to_json
from .pipeline import count_evaluation_windows, gather_windows
from .ragged import as_data, ragged_subset, sample_states

if TYPE_CHECKING:  # pragma: no cover
    from .estimator import NEEP

__all__ = ["prepare_fit", "input_stats", "validation_split", "evaluation_subset"]


def evaluation_subset(states, exact_ep, max_windows: int, seq_len: int, seed: int):
    """``held_out_subset`` for an array or a ragged set (tuple of parts)."""
    if isinstance(states, tuple):
        return ragged_subset(states, exact_ep, max_windows, seq_len, seed)
    return held_out_subset(states, exact_ep, max_windows, seq_len, seed)


def input_stats(train: Trajectories, normalize: bool, seed: int) -> tuple[list | None, list | None]:
    """Mean and standard deviation per coordinate of continuous training states, from a sample.

    Parameters
    ----------
    train : Trajectories
        The training part.
    normalize : bool
        False (or discrete states): no statistics, ``(None, None)``.
    seed : int
        Seeds the sample (at most 200 000 states, drawn over all steps).

    Returns
    -------
    mean, std : list of float or None
        A zero standard deviation is replaced by 1.
    """
    if train.discrete or not normalize:
        return None, None
    rng = np.random.default_rng(seed)
    if isinstance(train.states, tuple):  # a ragged set: drawn over all steps of all parts
        sample = sample_states(train.states, int(min(200_000, np.sum(train.lengths))), rng)
    else:
        count = min(200_000, train.n_trajectories * train.n_steps)
        m = rng.integers(0, train.n_trajectories, size=count)
        t = rng.integers(0, train.n_steps, size=count)
        sample = gather_windows(train.states, m, t, 1)[:, 0].astype(np.float64)
    std = sample.std(axis=0)
    std[~(std > 0)] = 1.0
    return sample.mean(axis=0).tolist(), std.tolist()


def validation_split(train: Trajectories, fraction: float, seq_len: int) -> tuple[Trajectories, Trajectories]:
    """``fraction`` of the training data set aside (last trajectories, or last part in time).

    Returns
    -------
    train, valid : Trajectories

    Raises
    ------
    ValueError
        When the training part is too short to split.
    """
    try:
        return train.split(1.0 - float(fraction), min_steps=max(seq_len, 2))
    except ValueError:
        raise ValueError(f"{train.name}: too little training data to set {fraction:g} of it "
                         "aside for model selection (validation_fraction)") from None


def prepare_fit(est: NEEP, data, test=None) -> tuple[Trajectories, Trajectories, dict]:
    """Training part, held-out part and training context of ``est.fit(data, test)``.

    Parameters
    ----------
    est : NEEP
        Its parameters (checked) choose the split, kind, statistics and subsets.
    data
        Trajectories, array or path (anything ``ragged.as_data`` takes).
    test
        Held-out data; None: ``data.split(1 - est.test_fraction)``, by
        trajectory when M > 1, by time when M = 1.

    Returns
    -------
    train : Trajectories
        The training part, without its validation share.
    test : Trajectories
        The held-out part, discrete states coded with the training labels.
    ctx : dict
        ``kind``, ``seq_len``, ``n_states``, ``dt``, ``mean``, ``std``,
        ``labels`` (JSON-ready), ``sub_states`` and ``sub_ep`` (the fixed
        validation subset the monitors evaluate), ``train_sub`` (a training
        subset of as many windows, or None without ``track_train``).

    Raises
    ------
    ValueError
        On data the parameters cannot fit (see ``params.model_kind``, the
        window length, too little data to split).
    """
    data = as_data(data)
    if test is None:
        train, test = data.split(1.0 - float(est.test_fraction), min_steps=est.seq_len)
    else:
        train, test = data, as_data(test, dt=data.dt if data.dt_known else None)
        if train.discrete != test.discrete or train.dim != test.dim:
            raise ValueError("test data must have the same kind of states as the training data")
    kind = est._kind(train)
    seq_len = int(est.seq_len)
    if kind == "current" and seq_len != 2:
        raise ValueError(f"model 'current' reads pairs (seq_len 2), got seq_len {seq_len}; "
                         "use 'gru' or 'mlp' for windows")
    train.check_seq_len(seq_len)
    test.check_seq_len(seq_len)
    n_states = max(train.n_states, test.n_states) if train.discrete else None
    if train.discrete and list(train.labels) != list(test.labels):
        test = as_data(test, labels=train.labels)
    mean, std = input_stats(train, est.normalize, est.seed)
    # Model selection (best held-out J) must not see the data the estimate is measured on:
    # with few held-out data, selecting and measuring on the same windows biases the rate
    # upward. The selection uses validation data carved from the training part.
    train, valid = validation_split(train, est.validation_fraction, seq_len)
    sub_states, sub_ep = evaluation_subset(valid.states, valid.exact_ep, est.eval_samples, seq_len, est.seed)
    train_sub = None
    if est.track_train:  # as many windows as the held-out subset, for a fair comparison
        windows = sub_states.shape[0] * count_evaluation_windows(sub_states, seq_len)
        train_sub, _ = evaluation_subset(train.states, None, windows, seq_len, est.seed)
    ctx = dict(kind=kind, seq_len=seq_len, n_states=n_states, dt=train.dt, mean=mean, std=std,
               labels=None if train.labels is None else labels_to_json(train.labels),
               sub_states=sub_states, sub_ep=sub_ep, train_sub=train_sub)
    return train, test, ctx
