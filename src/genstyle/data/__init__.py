from genstyle.data.datamodule import ImageDataModule
from genstyle.data.sources import FASHION_MNIST_CLASSES, ImageSet

__all__ = ["FASHION_MNIST_CLASSES", "ImageDataModule", "ImageSet"]
