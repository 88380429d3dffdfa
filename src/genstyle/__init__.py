"""genstyle: deep generative models for image style propagation."""

__version__ = "0.1.0"

from genstyle.model_size import register_resolvers as _register_resolvers

_register_resolvers()  # `${by_model_size:...}` in the model configs, wherever configs are composed
