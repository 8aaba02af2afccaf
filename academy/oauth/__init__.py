"""The portal as OAuth 2.0 / OpenID Connect provider: JupyterHub signs users in through it."""
