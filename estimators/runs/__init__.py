"""Run folders: ``fit_to_folder``, the summary, figures, predictions, checkpoints, defaults, atomic writes.

What the ``neep`` command does, as functions (files in, files out).
``defaults``, ``runs.large_batch`` and ``atomic`` load without Keras.
"""

__all__: list[str] = []
