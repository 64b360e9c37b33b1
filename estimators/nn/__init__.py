"""The networks: layers, ``h_theta`` networks, the Keras model and its file, monitors, the JAX step.

``kinds`` (which network reads which data) and ``backend`` load without Keras.
"""

__all__: list[str] = []
