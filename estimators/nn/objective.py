"""The NEEP objective (Eq. 2 of the paper) on a batch, in Keras ops: what training maximizes.

``neep_objective`` is written with Keras ops (any backend: TensorFlow, JAX)
so gradients flow through it; ``stats.bounds`` computes the same quantity in
float64 on predicted entropy productions, with the lower bounds it gives.
"""

from __future__ import annotations

from keras import ops

__all__ = ["neep_objective"]


def neep_objective(delta_s):
    """Batch estimate of ``J = mean(dS - exp(-dS))`` (Eq. 2), to be maximized.

    Parameters
    ----------
    delta_s : tensor
        Estimated entropy production of each transition (or window) in the
        batch, any shape; averaged over all entries.

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
    return ops.mean(delta_s - ops.exp(-delta_s))
