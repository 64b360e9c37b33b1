"""The data of one ``NEEP.fit``: training, validation and held-out parts, input statistics, monitor subsets.

``prepare_fit(config, data, test)`` does everything ``fit`` needs before the
first network is built: it splits off the held-out part (unless ``test`` is
given), checks that the model kind and the window length fit the data,
codes the held-out labels like the training ones, draws the input
statistics, sets the validation part aside from the training part (model
selection must not see the data the estimate is measured on) and draws the
fixed subsets the monitors evaluate. It returns them as one frozen
``PreparedFit``, which every seed's training reads.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import numpy as np

from ..data.labels import labels_to_json
from ..data.sets import TrajectorySet, as_data, ragged_subset, sample_states
from ..data.trajectories import Trajectories
from ..data.windows import count_evaluation_windows, gather_windows, held_out_subset
from ..nn.kinds import choose_kind
from .config import FitConfig
from .noise import network_noise

__all__ = ["PreparedFit", "prepare_fit", "input_stats", "validation_split", "evaluation_subset"]


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


@dataclasses.dataclass(frozen=True)
class PreparedFit:
    """The data of one fit, ready for training (``prepare_fit``).

    Attributes
    ----------
    train : Trajectories
        The training part, without its validation share.
    test : Trajectories
        The held-out part, discrete states coded with the training labels.
    kind : str
        The network kind (``nn.kinds.choose_kind``).
    seq_len : int
        Window length.
    n_states : int or None
        Number of discrete states (None for continuous ones).
    dt : float
        Time per step of the training data.
    mean, std : list of float or None
        Input statistics of continuous training states (``input_stats``).
    labels : list or None
        The training labels of discrete states, JSON-ready.
    sub_states, sub_ep : numpy.ndarray, numpy.ndarray or None
        The fixed validation subset the monitors evaluate, and its exact EP.
    train_sub : numpy.ndarray or None
        A training subset of as many windows (None without ``track_train``).
    parity : NEEPModel or None
        With odd columns: the parity network ``q`` (``training.parity.with_parity``).
    transition : dict or None
        With odd columns: the choice between the linear and the cubic transition
        (``baselines.transition.choose_transition``'s record), made once for the fit.
    noise_estimate : stats.noise.NoiseEstimate or None
        The localization noise of ``train``, when the current network may be
        corrected for it (``training.noise.network_noise``; reused by ``check_noise``).
    noise_variance : list of float or None
        The localization-noise variance per coordinate the current network is
        corrected for, or None.
    """

    train: Any
    test: Any
    kind: str
    seq_len: int
    n_states: int | None
    dt: float
    mean: list | None
    std: list | None
    labels: list | None
    sub_states: Any
    sub_ep: Any
    train_sub: Any
    parity: Any = None
    transition: dict | None = None
    noise_estimate: Any = None
    noise_variance: list | None = None


def prepare_fit(config: FitConfig, data: Any, test: Any = None) -> PreparedFit:
    """Training part, held-out part and the fixed subsets of a fit of ``data`` under ``config``.

    Parameters
    ----------
    config : FitConfig
        Chooses the split, kind, statistics and subsets.
    data : Trajectories or TrajectorySet
        The data (already read: ``data.sets.as_data``).
    test : Trajectories, TrajectorySet or None
        Held-out data; None: ``data.split(1 - config.test_fraction)``, by
        trajectory when M > 1, by time when M = 1.

    Returns
    -------
    PreparedFit

    Raises
    ------
    ValueError
        On data the parameters cannot fit (a kind that cannot read the
        states, the window length, too little data to split).
    """
    if test is None:
        train, test = data.split(1.0 - float(config.test_fraction), min_steps=config.seq_len)
    else:
        if not isinstance(test, (Trajectories, TrajectorySet)):  # read with the training data's dt
            test = as_data(test, dt=data.dt if data.dt_known else None)
        train = data
        if train.discrete != test.discrete or train.dim != test.dim:
            raise ValueError("test data must have the same kind of states as the training data")
    seq_len = config.seq_len
    kind = choose_kind(config.model, train.discrete, seq_len, odd=bool(config.odd))
    if kind != "gru" and seq_len > 2 and config.verbose:
        print(f"NEEP: {kind} network over windows of {seq_len} states (the window is flattened; "
              "gru reads it in order, the paper's RNEEP)", file=sys.stderr, flush=True)
    if kind == "current" and seq_len != 2:
        raise ValueError(f"model 'current' reads pairs (seq_len 2), got seq_len {seq_len}; "
                         "use 'gru' or 'mlp' for windows")
    train.check_seq_len(seq_len)
    test.check_seq_len(seq_len)
    n_states = max(train.n_states, test.n_states) if train.discrete else None
    if train.discrete and list(train.labels) != list(test.labels):
        test = as_data(test, labels=train.labels)
    mean, std = input_stats(train, config.normalize, config.seed)
    # Model selection (best held-out J) must not see the data the estimate is measured on:
    # with few held-out data, selecting and measuring on the same windows biases the rate
    # upward. The selection uses validation data carved from the training part.
    train, valid = validation_split(train, config.validation_fraction, seq_len)
    sub_states, sub_ep = evaluation_subset(valid.states, valid.exact_ep, config.eval_samples, seq_len, config.seed)
    train_sub = None
    if config.track_train:  # as many windows as the held-out subset, for a fair comparison
        windows = sub_states.shape[0] * count_evaluation_windows(sub_states, seq_len)
        train_sub, _ = evaluation_subset(train.states, None, windows, seq_len, config.seed)
    noise_estimate, noise_variance = network_noise(config, train, kind)
    return PreparedFit(train=train, test=test, kind=kind, seq_len=seq_len, n_states=n_states, dt=train.dt,
                       mean=mean, std=std, labels=None if train.labels is None else labels_to_json(train.labels),
                       sub_states=sub_states, sub_ep=sub_ep, train_sub=train_sub, noise_estimate=noise_estimate,
                       noise_variance=noise_variance)
