"""Classical estimators beside the network: fitted currents and the TUR bound, plug-in KL. NumPy only."""

__all__: list[str] = []
