"""Benchmark systems with exactly known entropy production, and fast Numba samplers."""

__all__: list[str] = []
