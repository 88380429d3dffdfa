from genstyle.callbacks.interpretability import InterpretabilityViews
from genstyle.callbacks.metrics_recorder import MetricsRecorder
from genstyle.callbacks.sample_grid import SampleGrid

__all__ = ["InterpretabilityViews", "MetricsRecorder", "SampleGrid"]
