"""Neural estimators for entropy production (NEEP, RNEEP) in Keras 3."""

__all__: list[str] = []
