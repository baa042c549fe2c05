"""Per-workspace intents: the API, the YAML file, storage and model versions (training: assistant/training*.py)."""
