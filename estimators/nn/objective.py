"""The NEEP objective (Eq. 2 of the paper) on a batch, in Keras ops: what training maximizes.

``neep_objective`` is written with Keras ops (any backend: TensorFlow, JAX)
so gradients flow through it; ``stats.bounds`` computes the same quantity in
float64 on predicted entropy productions, with the lower bounds it gives.
"""

from __future__ import annotations

from keras import ops

__all__ = ["neep_objective", "logistic_objective", "OBJECTIVES"]

#: The training objectives of ``NEEPModel(objective=...)``.
OBJECTIVES = ("neep", "logistic")


def neep_objective(delta_s, penalty=None):
    """Batch estimate of ``J = mean(dS - exp(-dS))`` (Eq. 2), to be maximized.

    Parameters
    ----------
    delta_s : tensor
        Estimated entropy production of each transition (or window) in the
        batch, any shape; averaged over all entries.
    penalty : tensor or None
        Per-entry ``q >= 0`` in ``mean(dS - exp(-dS - q))``: the noise-corrected
        objective (``CurrentAnsatz(noise=...)``). With white Gaussian noise in the
        displacement, ``<exp(-dS)>`` over the noise is ``exp(-dS_clean + q)``,
        so this is in expectation the objective of the noiseless pairs.

    Returns
    -------
    tensor
        Scalar, in the dtype of ``delta_s`` (float32 for training).

    Notes
    -----
    No clipping: ``exp(-dS)`` overflows only for ``dS < -88`` in float32, far
    outside what a trained estimator produces; an untrained one starts near 0.
    """
    delta_s = ops.convert_to_tensor(delta_s)
    if penalty is None:
        return ops.mean(delta_s - ops.exp(-delta_s))
    return ops.mean(delta_s - ops.exp(-delta_s - penalty))


def logistic_objective(delta_s):
    """Batch ``mean(ln sigmoid(dS))``, to be maximized: forward pairs against their reverses.

    The log-likelihood of telling a window from its time reverse (whose
    estimate is ``-dS`` by antisymmetry); its optimum is the same log-ratio
    ``dS = ln P(w) / P(reversed w)`` as that of ``neep_objective``, but its
    gradient is bounded (``1 - sigmoid(dS)``), where that of ``J`` carries
    ``exp(-dS)``. Used with odd variables: there the log-ratio of a pair
    holds the parity term (std 2 nats per step in the underdamped trap), and
    ``exp(-dS)`` has a heavy tail (its sample variance grows without bound
    with the sample: 0.9 at 10^3 pairs, 19 at 10^5), which left the O(dt)
    current to the noise.
    """
    delta_s = ops.convert_to_tensor(delta_s)
    return -ops.mean(ops.softplus(-delta_s))
