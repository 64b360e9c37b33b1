"""Data: readers, labels, trajectories and ragged sets, windows. NumPy only.

One loading layer: every format a user brings (npy, npz, CSV, HDF5, several
files, arbitrary labels) becomes a ``Trajectories`` or ``TrajectorySet``
(``sets.as_data``), memory-mapped where the format allows.
"""

__all__: list[str] = []
