"""The ``neep`` command: a thin layer that parses, calls the library, and reports.

Every subcommand lives in its own module and imports its heavy dependencies
(Numba, TensorFlow) inside the command function, so ``neep --help`` stays fast.
"""

__all__: list[str] = []
