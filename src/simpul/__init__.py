"""Simpul: agreement-governed data sharing between Indonesian government agencies."""

__version__ = "0.1.0"
