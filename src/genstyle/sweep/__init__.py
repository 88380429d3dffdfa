"""Multirun support: per-job markers, failure isolation, restart skipping and the sweep summary."""
