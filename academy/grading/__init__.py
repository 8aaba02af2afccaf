"""The grading worker: each submission is one job, autograded by nbgrader inside a fresh sandbox.

The portal reaches it only through academy/integrations/ (grading_queue.py queues a job); the portal's
own grading endpoints (hand-graded totals, the hub's formgrader list, service tokens) live in
academy/gradebook/. What the worker offers:
- `jobs.GradingJob` (what to grade, with limits) and `jobs.GradingResult` (plain, JSON-ready);
- `tasks.submit(job)` queues a job ('gpu' queue when the syllabus marks the assignment gpu=true);
- `grader.grade_submission(job)` grades in-process (tests, CLI); a submission id is graded once;
- results reach the portal through the reporter named by ACADEMY_GRADING_REPORTER (default:
  POST to ACADEMY_PORTAL_URL/api/grading/results with header X-Academy-Grader-Token =
  ACADEMY_WORKER_TOKEN). The portal must accept a repeated POST of the same submission id.

Environment: every variable the worker reads is declared, with its default, in settings.py.
Needs bubblewrap on the worker host: apt-get install -y bubblewrap.
"""
