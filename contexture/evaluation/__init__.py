"""Evaluating contexts on real data: context grids, exact encoders and ridge probes (Sec. 5)."""
