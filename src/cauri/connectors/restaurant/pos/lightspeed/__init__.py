"""Lightspeed: the Retail (R-Series) API (``retail``) and, as a second profile, the Restaurant (K-Series) API."""
