"""The names users import: `from realtime_api.consumers import APIConsumer`."""

from .demultiplexer import APIDemultiplexer
from .endpoints import APIConsumer
from .sessions import GroupUserConsumer

__all__ = ["APIConsumer", "APIDemultiplexer", "GroupUserConsumer"]
