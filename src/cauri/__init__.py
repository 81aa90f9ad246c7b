"""Cauri: collect and pay out money by mobile money, and run the businesses built on it."""

__version__ = "0.1.0"
