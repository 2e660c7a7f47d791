"""cupy._core: only what minivae/fast/gpu.py reads (the GEMMs' compute type, for TF32)."""
