"""Training: the fit configuration, the prepared data, the training loop, seeds, feeds, distribution.

``config`` (``FitConfig``) loads without Keras.
"""

__all__: list[str] = []
