"""The portal's gunicorn settings that are not per-machine (scripts/run.sh and tests/hub/stack.py load this file).

Per-machine choices (bind address, workers, threads) stay on run.sh's command line.
"""

# How long an idle kept-alive connection stays open (gunicorn's default: 2 s). At 2 s, a class start on one busy
# machine lost sign-ins: a trainee signs in, goes to the hub, which sends them back to the portal's
# /oauth/authorize seconds later on the same connection, and gunicorn closed that connection just as the request
# arrived (a close with an unread request is a TCP reset: "Connection reset by peer"). The hub's own requests
# (the userinfo refresh before each spawn) were reset the same way: gunicorn also closes a new connection that
# has sent nothing for 5 s plus this timeout, and a hub stalled by 60 starting servers can take that long, which
# lost the spawn. Longer than the gaps of a sign-in, short enough that idle browser connections do not fill the
# 1,000 connections a worker holds (worker_connections).
keepalive = 30
