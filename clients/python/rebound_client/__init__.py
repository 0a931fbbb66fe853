"""Python client for Rebound (see clients/python/README.md)."""

from ._conn import Tls
from .client import Client
from .errors import FieldViolation, ReboundError
from .publisher import Failed, PublishResult, Publisher, Rejected
from .watch import Watch

__all__ = ["Client", "Failed", "FieldViolation", "PublishResult", "Publisher",
           "ReboundError", "Rejected", "Tls", "Watch"]
