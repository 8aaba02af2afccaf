"""nbgrader settings of the manufacturing-ai course (read by every nbgrader command run in this folder)."""

import os

c = get_config()  # noqa: F821 - injected by traitlets when it loads this file

# The course folder is wherever this file lives, so a copy of the course (tests, grading workers) works unchanged.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# Must match course_id in syllabus.toml and the portal's course record.
c.CourseDirectory.course_id = "manufacturing-ai"
# The gradebook sits beside the course unless the deployment points it at PostgreSQL.
c.CourseDirectory.db_url = os.environ.get(
    "ACADEMY_GRADEBOOK_URL",
    "sqlite:///" + os.path.join(os.path.dirname(os.path.abspath(__file__)), "gradebook.db"),
)
# Data never travels with the assignment: kernels read ACADEMY_DATA_DIR instead. Keep stray files out.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.csv", "*.npz"]

# Per-cell limit while autograding. The labs are built to run whole in under ~40 s on 2 cores; the heaviest
# cell (model training in lab 3 on a CPU-only worker) stays well under this, while a runaway loop is cut off.
c.Execute.timeout = 120
# A student's error must not stop the remaining test cells from being graded.
c.Execute.interrupt_on_timeout = True

# Stubs the released notebooks show in place of the solutions.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE / 여기에 답을 쓰세요"
