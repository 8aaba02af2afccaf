"""one course, one nbgrader folder

courses.nbgrader_course becomes unique: a folder's gradebook, formgrader and grade sync serve one course.
Courses that shared a folder keep it on the course with the most assignments (then the lowest id); each
other one is re-linked to "<folder>-c<id>" (a folder that does not exist yet) and the change is printed,
so an operator links it to a folder of its own (flask --app wsgi grading link-folder CODE FOLDER).

Revision ID: 5b1e7c2a9d40
Revises: c58626744cfc
Create Date: 2026-12-06 04:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b1e7c2a9d40'
down_revision = 'c58626744cfc'
branch_labels = None
depends_on = None


def _split_shared_folders() -> None:
    conn = op.get_bind()
    courses = sa.table('courses', sa.column('id', sa.Integer), sa.column('code', sa.String),
                       sa.column('nbgrader_course', sa.String))
    assignments = sa.table('assignments', sa.column('id', sa.Integer), sa.column('course_id', sa.Integer))
    counts = (sa.select(assignments.c.course_id, sa.func.count(assignments.c.id).label('n'))
              .group_by(assignments.c.course_id).subquery())
    rows = conn.execute(
        sa.select(courses.c.id, courses.c.code, courses.c.nbgrader_course, sa.func.coalesce(counts.c.n, 0))
        .select_from(courses.outerjoin(counts, counts.c.course_id == courses.c.id))
    ).all()
    by_folder: dict[str, list] = {}
    for row in rows:
        by_folder.setdefault(row[2], []).append(row)
    for folder, group in by_folder.items():
        keep, *others = sorted(group, key=lambda r: (-r[3], r[0]))
        for course_id, code, _folder, _n in others:
            new = f"{folder[:48]}-c{course_id}"
            conn.execute(courses.update().where(courses.c.id == course_id).values(nbgrader_course=new))
            print(f"course {code} shared the nbgrader folder {folder} with course {keep[1]}: re-linked to {new}")


def upgrade():
    _split_shared_folders()
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_courses_nbgrader_course'), ['nbgrader_course'])


def downgrade():
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_courses_nbgrader_course'), type_='unique')
