"""The evaluation networks: small image classifiers trained on Fashion-MNIST, their shipped
weights (`weights/`) and how those weights were trained. Metrics compute their features with
them; stylization and the AdaIN model's config use one as a frozen perceptual network. They import
only `data` sources and the bottom layer, never metrics, models or commands."""
