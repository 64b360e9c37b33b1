"""Statistics of EP estimates: rates, bounds, uncertainty, exact references, diagnostics. NumPy only."""

__all__: list[str] = []
