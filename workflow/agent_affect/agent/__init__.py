"""The retrying coding agent: generation with per-row seeds and steering, the loop, its metrics."""
