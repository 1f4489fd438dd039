"""Financial LSTM pipeline: data validation, features, models, training, evaluation, MLflow tracking."""

__version__ = "0.1.0"
