"""Service models: botocore's own, plus mallee's models and patches in the same JSON format."""

from mallee.api.models.loader import DATA_DIR, load_service_model, model_dict

__all__ = ["DATA_DIR", "load_service_model", "model_dict"]
