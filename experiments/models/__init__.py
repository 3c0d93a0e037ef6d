"""The models a grid point trains: the built-in kinds and layers of the user's own.

- `builtin`: `build_model(kind, hyperparameters, task, seed)` (vanilla, deep vanilla,
  LSTM, GRU, or a user's factory, under one head), `build_optimizer`, and
  `check_model_settings`, the Keras names of a sweep checked before any run exists.
- `factories`: a model kind `package.module:factory` (a layer of the user's own), imported
  and tried on a zero batch before a sweep (`check_factories`), its source logged with
  every run that trained it.
"""

from experiments.models.builtin import build_model, build_optimizer, check_model_settings
from experiments.models.factories import check_factories

__all__ = ["build_model", "build_optimizer", "check_factories", "check_model_settings"]
