"""The real portal and hub (tests/hub/stack.py), signed in through the portal: the course's instructor
opens its formgrader, a trainee of the course is refused, and a written answer graded in the formgrader
reaches the portal's gradebook through the sync service. Runs once jupyterhub_config.py adds the
formgraders (formgrader_services)."""
from __future__ import annotations

import csv
import io
import re
import shutil

import pytest
import requests
from nbgrader.api import Gradebook

from tests.hub.stack import DEMO_PASSWORD, REPO, Stack, wait_until

pytestmark = pytest.mark.slow
COURSE, LAB = "manufacturing-ai", "lab1_predictive_maintenance"
FORMGRADER = f"/services/formgrade-{COURSE}/formgrader"
ADD_LAB = f"""\
from academy.courses.models import Assignment, Course
course = db.session.scalar(db.select(Course).where(Course.nbgrader_course == "{COURSE}"))
db.session.add(Assignment(course=course, nbgrader_name="{LAB}", title_ko="실습 1", title_en="Lab 1", max_points=20))
db.session.commit()
print(course.id)
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("formgrader-stack")
    course = root / "courses" / COURSE
    course.mkdir(parents=True)  # a copy: the formgrader creates its gradebook in the course folder
    shutil.copy(REPO / "courses" / COURSE / "nbgrader_config.py", course)
    stack = Stack(root / "stack", courses_dir=root / "courses")
    stack.env["ACADEMY_FORMGRADERS"] = "on"
    stack.env["ACADEMY_FORMGRADER_SYNC_EVERY"] = "1"
    stack.course_dir = course
    stack.start_or_explain()
    yield stack
    stack.stop()


def portal_session(stack, email: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{stack.portal_url}/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"email": email, "password": DEMO_PASSWORD, **({"csrf_token": token.group(1)} if token else {})}
    assert session.post(f"{stack.portal_url}/login", data=data, allow_redirects=False, timeout=10).status_code == 302
    return session


def autograded_answer(course_dir, student: str) -> int:
    """Put the trainee's autograded submission in the course gradebook; return its written answer's grade id."""
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", COURSE) as gb:
        gb.add_assignment(LAB)
        gb.add_notebook(LAB, LAB)
        gb.add_grade_cell("test_features", LAB, LAB, max_score=6, cell_type="code")
        gb.add_grade_cell("explain_model", LAB, LAB, max_score=4, cell_type="markdown")
        gb.add_solution_cell("explain_model", LAB, LAB)
        gb.add_student(student)
        gb.add_submission(LAB, student)
        test = gb.find_grade("test_features", LAB, LAB, student)
        test.auto_score, test.needs_manual_grade = 6.0, False
        gb.db.commit()
        return gb.find_grade("explain_model", LAB, LAB, student).id


def test_the_instructor_opens_the_formgrader_and_a_trainee_is_refused(stack):
    page = portal_session(stack, "instructor01@academy.test").get(stack.hub_url + FORMGRADER, timeout=60)
    assert page.status_code == 200 and "<title>nbgrader formgrade</title>" in page.text
    refused = portal_session(stack, "trainee001@academy.test").get(stack.hub_url + FORMGRADER, timeout=60)
    assert refused.status_code == 403 and "nbgrader formgrade" not in refused.text


def test_a_written_answer_graded_in_the_formgrader_reaches_the_portal_gradebook(stack):
    trainee = stack.user_id("trainee001@academy.test")
    course_id = int(stack.portal_python(ADD_LAB).strip().splitlines()[-1])
    grade_id = autograded_answer(stack.course_dir, str(trainee))
    instructor = portal_session(stack, "instructor01@academy.test")
    assert instructor.get(stack.hub_url + FORMGRADER, timeout=60).ok
    xsrf = instructor.cookies.get("_xsrf", path=f"/services/formgrade-{COURSE}/")
    saved = instructor.put(f"{stack.hub_url}{FORMGRADER}/api/grade/{grade_id}", json={"manual_score": 3},
                           headers={"X-XSRFToken": xsrf}, timeout=30)
    assert saved.status_code == 200, saved.text[:300]

    def portal_score() -> str:
        text = instructor.get(f"{stack.portal_url}/courses/{course_id}/gradebook.csv", timeout=10).text
        rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
        return rows[str(trainee)][f"{LAB} score"]

    # (6 autograded + 3 by hand) of 10 = 18 of 20 points; no portal submission, so no late penalty.
    wait_until(lambda: portal_score() == "18", 30, "the hand-graded total in the portal gradebook")
