"""The grading worker: each submission is one job, autograded by nbgrader inside a fresh sandbox.

Interface for the portal (the only names it needs):
- `jobs.GradingJob` (what to grade, with limits) and `jobs.GradingResult` (plain, JSON-ready);
- `tasks.submit(job)` queues a job ('gpu' queue when the syllabus marks the assignment gpu=true);
- `grader.grade_submission(job)` grades in-process (tests, CLI); a submission id is graded once;
- results reach the portal through the reporter named by ACADEMY_GRADING_REPORTER (default:
  POST to ACADEMY_PORTAL_URL/api/grading/results with header X-Academy-Grader-Token =
  ACADEMY_GRADER_TOKEN). The portal must accept a repeated POST of the same submission id.

Environment: ACADEMY_BROKER_URL (default sqla+sqlite under the grading dir, no server),
ACADEMY_GRADING_DIR (results, locks, journal), ACADEMY_GRADING_SCRATCH (job folders),
ACADEMY_DATA_DIR (read-only data for kernels), ACADEMY_SANDBOX_UID_BASE,
ACADEMY_GRADING_FORK_SERVER (default 1: a root worker forks each kernel from its fork server,
which imported the kernel and the lab libraries once; 0: each kernel starts in its own sandbox),
ACADEMY_GRADING_PRELOAD (comma-separated modules the fork server imports; see forkserver.py).
Needs bubblewrap on the worker host: apt-get install -y bubblewrap.
"""
