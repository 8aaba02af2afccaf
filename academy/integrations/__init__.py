"""Adapters to the outside systems (JupyterHub, ...): the only places that speak their protocols."""
