# The z2jh hub image plus the portal authenticator and the server sizes (no portal code, no Flask).
# Build from the repository root: docker build -f deploy/hub.Dockerfile -t ghcr.io/gyeongnam-ai-academy/hub:2027.1 .
FROM quay.io/jupyterhub/k8s-hub:4.3.1
USER root
RUN pip install --no-cache-dir oauthenticator==17.4.0
COPY academy/integrations/__init__.py academy/integrations/hub_auth.py academy/integrations/hub_profiles.py \
     /srv/academy-hub/academy/integrations/
RUN touch /srv/academy-hub/academy/__init__.py
ENV PYTHONPATH=/srv/academy-hub
USER jovyan
