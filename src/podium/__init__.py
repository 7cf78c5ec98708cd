"""Podium: one server speaking the Boomstream, Iotum and LiveMinutes APIs over one domain model."""

__version__ = "0.1.0"
