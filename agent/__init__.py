"""PetSage Builder: a feature request in, a tested commit on a feature branch out."""

__version__ = "0.1.0"
BLUEPRINT_VERSION = "1.0"
