"""The real portal and hub (tests/hub/stack.py), signed in through the portal, with two courses whose folders
were swapped before the hub started (MAI-101 first taught manufacturing-ai, then second-course; SEC-101 got
manufacturing-ai). The hub learns each course's id and folder from the portal and names every formgrader
and instructors' group by the course id: an instructor opens their own course's formgrader (the folder it
has now), never the other course's, a trainee none; a written answer graded in the formgrader reaches the
portal's gradebook through that course's sync; and a change of course in the portal changes the hub groups
at the next login.

The hub runs as root here and this machine's Python lives where no other OS user may read, so the
formgraders run as root (named outright); tests/formgrader/test_services.py checks the OS-user part.
"""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
import requests
from nbgrader.api import Gradebook

from academy.integrations.course_config import gradebook_url
from tests.hub.stack import DEMO_PASSWORD, REPO, Stack, wait_until

pytestmark = pytest.mark.slow
LAB = "lab1_predictive_maintenance"
# Run after the demo cohort is seeded, before the hub starts: a second course and instructor, then the swap.
RELINK = f"""\
import json
from academy.auth.services import create_user
from academy.courses.models import Assignment, Course
from academy.courses.services import link_nbgrader_folder
mai = db.session.scalar(db.select(Course).where(Course.code == "MAI-101"))
sec = Course(code="SEC-101", title_ko="둘째 과정", title_en="Second course", nbgrader_course="second-course",
             cohorts=list(mai.cohorts))
sec.instructors.append(create_user("instructor02@academy.test", "강사 2", "instructor", "{DEMO_PASSWORD}",
                                   check_password=False))
db.session.add(sec)
db.session.flush()
link_nbgrader_folder(mai, "swap-in-progress")
link_nbgrader_folder(sec, "manufacturing-ai")
link_nbgrader_folder(mai, "second-course")
db.session.add(Assignment(course=mai, nbgrader_name="{LAB}", title_ko="실습 1", title_en="Lab 1", max_points=20))
db.session.commit()
print(json.dumps({{"MAI-101": mai.id, "SEC-101": sec.id, "instructor02": sec.instructors[0].id}}))
"""
MOVE_INSTRUCTOR = """\
from academy.auth.models import User
from academy.courses.models import Course
who = db.session.scalar(db.select(User).where(User.email == "instructor01@academy.test"))
mai = db.session.scalar(db.select(Course).where(Course.code == "MAI-101"))
sec = db.session.scalar(db.select(Course).where(Course.code == "SEC-101"))
mai.instructors.remove(who)
sec.instructors.append(who)
db.session.commit()
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("formgrader-stack")
    for name in ("manufacturing-ai", "second-course"):
        course = root / "courses" / name
        course.mkdir(parents=True)
        config = (REPO / "courses" / "manufacturing-ai" / "nbgrader_config.py").read_text()
        (course / "nbgrader_config.py").write_text(config.replace('"manufacturing-ai"', repr(name)))
        (course / f"only-in-{name}.md").write_text(name)
    stack = Stack(root / "stack", courses_dir=root / "courses")
    stack.env.update(ACADEMY_FORMGRADERS="on", ACADEMY_FORMGRADER_SYNC_EVERY="1", ACADEMY_FORMGRADER_USER="root")
    seed = stack._prepare_portal

    def prepare() -> None:
        seed()
        stack.ids.update(json.loads(stack.portal_python(RELINK).strip().splitlines()[-1]))

    stack._prepare_portal = prepare
    stack.start_or_explain()
    yield stack
    stack.stop()


def formgrader(stack, course: str) -> str:
    return f"{stack.hub_url}/services/formgrade-c{stack.ids[course]}"


def portal_session(stack, email: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{stack.portal_url}/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"email": email, "password": DEMO_PASSWORD, **({"csrf_token": token.group(1)} if token else {})}
    assert session.post(f"{stack.portal_url}/login", data=data, allow_redirects=False, timeout=10).status_code == 302
    return session


def hub_groups(stack, email: str) -> list[str]:
    return stack.hub_api("GET", f"/users/u{stack.user_id(email)}").json()["groups"]


def autograded_answer(stack, folder: str, student: str) -> int:
    """Put the trainee's autograded submission in the course gradebook; return its written answer's grade id."""
    url = gradebook_url(stack.root.parent / "courses" / folder, env={"ACADEMY_VAR_DIR": stack.env["ACADEMY_VAR_DIR"]})
    with Gradebook(url, folder) as gb:
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


def test_the_instructor_opens_their_courses_formgrader_and_a_trainee_is_refused(stack):
    page = portal_session(stack, "instructor01@academy.test").get(formgrader(stack, "MAI-101") + "/formgrader",
                                                                  timeout=60)
    assert page.status_code == 200 and "<title>nbgrader formgrade</title>" in page.text
    refused = portal_session(stack, "trainee001@academy.test").get(formgrader(stack, "MAI-101") + "/formgrader",
                                                                   timeout=60)
    assert refused.status_code == 403 and "nbgrader formgrade" not in refused.text


def test_an_instructor_never_reaches_the_course_that_now_has_their_old_folder(stack):
    """instructor01's course moved from manufacturing-ai to second-course, and SEC-101 took manufacturing-ai.
    Keyed by course id, instructor01 reaches second-course through formgrade-c<MAI-101> and nothing of SEC-101.

    Checked: fails when the portal's groups claim goes back to formgrade-<folder> (academy/oauth/services.py);
    with the hub's services named by folder too, formgrade-manufacturing-ai would open SEC-101's folder to
    instructor01, whose group it was before the swap.
    """
    session = portal_session(stack, "instructor01@academy.test")
    own = formgrader(stack, "MAI-101")
    assert session.get(own + "/formgrader", timeout=60).status_code == 200
    names = {item["name"] for item in session.get(own + "/api/contents", timeout=30).json()["content"]}
    assert "only-in-second-course.md" in names and "only-in-manufacturing-ai.md" not in names
    other = session.get(formgrader(stack, "SEC-101") + "/formgrader", timeout=60)
    assert other.status_code == 403 and "nbgrader formgrade" not in other.text
    assert session.get(f"{stack.hub_url}/services/formgrade-manufacturing-ai/formgrader", timeout=30).status_code == 404
    assert hub_groups(stack, "instructor01@academy.test") == [f"formgrade-c{stack.ids['MAI-101']}"]


def test_a_written_answer_graded_in_the_formgrader_reaches_the_portal_gradebook(stack):
    trainee = stack.user_id("trainee001@academy.test")
    grade_id = autograded_answer(stack, "second-course", str(trainee))
    instructor = portal_session(stack, "instructor01@academy.test")
    base = formgrader(stack, "MAI-101")
    assert instructor.get(base + "/formgrader", timeout=60).ok
    xsrf = instructor.cookies.get("_xsrf", path=f"/services/formgrade-c{stack.ids['MAI-101']}/")
    saved = instructor.put(f"{base}/formgrader/api/grade/{grade_id}", json={"manual_score": 3},
                           headers={"X-XSRFToken": xsrf}, timeout=30)
    assert saved.status_code == 200, saved.text[:300]

    def portal_score() -> str:
        text = instructor.get(f"{stack.portal_url}/courses/{stack.ids['MAI-101']}/gradebook.csv", timeout=10).text
        rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
        return rows[str(trainee)][f"{LAB} score"]

    # (6 autograded + 3 by hand) of 10 = 18 of 20 points; no portal submission, so no late penalty.
    wait_until(lambda: portal_score() == "18", 30, "the hand-graded total in the portal gradebook")


def test_the_hub_groups_follow_the_portal_at_the_next_login(stack):
    """instructor01 moves from MAI-101 to SEC-101 in the portal: at the next sign-in the hub group changes
    with it, SEC-101's formgrader opens and MAI-101's no longer does."""
    stack.portal_python(MOVE_INSTRUCTOR)
    session = portal_session(stack, "instructor01@academy.test")
    assert session.get(formgrader(stack, "SEC-101") + "/formgrader", timeout=60).status_code == 200
    assert hub_groups(stack, "instructor01@academy.test") == [f"formgrade-c{stack.ids['SEC-101']}"]
    assert session.get(formgrader(stack, "MAI-101") + "/formgrader", timeout=60).status_code == 403
