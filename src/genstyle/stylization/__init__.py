"""Stylization methods that are not trained models: they use the project's Fashion-MNIST
classifier (from `genstyle.metrics`) as a perceptual feature network, so they live above metrics
and below the command-line layer, and models never import them."""
