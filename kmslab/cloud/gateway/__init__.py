"""The gateway: one port, every service; authenticates each request and routes it by service."""

from __future__ import annotations

from kmslab.cloud.gateway.app import Gateway
from kmslab.cloud.gateway.request import Incoming, Outgoing, Service

__all__ = ["Gateway", "Incoming", "Outgoing", "Service"]
