"""govnet: infrastructure as code for a city e-government network."""

__version__ = "0.1.0"
