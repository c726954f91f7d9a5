"""dlwpt-pipeline: the data and training examples of *Deep Learning with PyTorch*, part 1."""

__version__ = "0.1.0"
