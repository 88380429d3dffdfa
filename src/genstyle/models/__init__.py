from genstyle.models.base import GenerativeModule

__all__ = ["GenerativeModule"]
