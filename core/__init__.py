"""The base every package stands on: configuration (read once from the environment) and the one error
tree. Imports nothing of ours."""

__version__ = "0.1.0"
