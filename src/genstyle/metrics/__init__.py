"""Evaluation metrics on classifier features. Importing this package registers the
`fmnist-classifier` feature extractor with torch-fidelity."""

from genstyle.classifier.fashion_classifier import (
    FashionClassifier,
    load_classifier,
    weights_sha256,
)
from genstyle.metrics.extractor import EXTRACTOR_NAME, FashionFeatureExtractor, ImageTensorDataset
from genstyle.metrics.features import extract_features

__all__ = [
    "EXTRACTOR_NAME",
    "FashionClassifier",
    "FashionFeatureExtractor",
    "ImageTensorDataset",
    "extract_features",
    "load_classifier",
    "weights_sha256",
]
