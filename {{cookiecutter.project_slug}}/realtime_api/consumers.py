"""The names users import: `from realtime_api.consumers import Endpoint`."""

from .demultiplexer import APIDemultiplexer
from .endpoints import APIConsumer, Endpoint
from .registry import Registry
from .sessions import GroupUserConsumer

__all__ = [
    "APIConsumer",
    "APIDemultiplexer",
    "Endpoint",
    "GroupUserConsumer",
    "Registry",
]
