"""Errors of the understanding engine; AppError subclasses so an API route turns them into a precise 4xx."""

from __future__ import annotations

from touchpoint.kit.errors import AppError


class ModelLoadError(AppError):
    """A model directory is missing, incomplete or corrupt, or was built with another encoder."""

    status_code = 422
    code = "nlu_model_invalid"


class TrainingDataError(AppError):
    """Training examples that cannot make a model (too few intents, empty texts...)."""

    status_code = 422
    code = "nlu_training_data_invalid"


class VersionNotFound(AppError):
    status_code = 404
    code = "nlu_version_not_found"
