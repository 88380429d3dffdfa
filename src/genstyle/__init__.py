"""genstyle: deep generative models for image style propagation."""

__version__ = "0.1.0"
