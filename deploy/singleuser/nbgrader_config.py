"""nbgrader settings of every trainee's notebook server: the exchange is the portal, not a shared folder.

Found through JUPYTER_CONFIG_PATH (jupyterhub_config.py sets it for the local backend; the course
image copies this file to /etc/jupyter/). nbgrader's assignment list reads it from there whatever the
server's working folder is, and so do `nbgrader list/fetch_assignment/submit/fetch_feedback` in a
terminal. A trainee's own ~/.jupyter/nbgrader_config.py may override it, but never gets more than
their own portal token allows.
"""

c = get_config()  # noqa: F821 - injected by traitlets when it loads this file

# Every exchange action calls the portal (academy/exchange) with the trainee's own token.
c.ExchangeFactory.exchange = "academy.exchange.PortalExchange"
c.ExchangeFactory.list = "academy.exchange.PortalList"
c.ExchangeFactory.fetch_assignment = "academy.exchange.PortalFetchAssignment"
c.ExchangeFactory.submit = "academy.exchange.PortalSubmit"
c.ExchangeFactory.fetch_feedback = "academy.exchange.PortalFetchFeedback"
# Instructors release, collect and return feedback in the portal; these only say so.
c.ExchangeFactory.release_assignment = "academy.exchange.PortalReleaseAssignment"
c.ExchangeFactory.release_feedback = "academy.exchange.PortalReleaseFeedback"
c.ExchangeFactory.collect = "academy.exchange.PortalCollect"

# Assignments are fetched into the server's root folder (the trainee's home), as <assignment>/.
c.Exchange.assignment_dir = "."
# Receipt times (the names of feedback folders) in the academy's time zone.
c.Exchange.timezone = "Asia/Seoul"
# What a submission leaves out, as the course does when grading (courses/*/nbgrader_config.py):
# data comes from ACADEMY_DATA_DIR on the grader, never from the trainee.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.csv", "*.npz"]
