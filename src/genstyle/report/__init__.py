"""Offline comparison of finished runs: `python compare.py <sweep dir | run dirs>` -> report.html + PNG plots."""
