"""Spatial layers, the road graph and the derived agglomeration inputs."""
from ._errors import ParamError

__all__ = ["ParamError"]
