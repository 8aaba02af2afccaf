"""A cohort with one course of two assignments, and trainees with grades and attendance, for the certificate tests."""
from __future__ import annotations

import pytest

from academy.courses.services import upsert_grade
from academy.extensions import db


class CohortWorld:
    def __init__(self, make):
        self.make = make
        self.office = make.user("admin", name="사무국")
        self.instructor = make.user("instructor")
        uni = make.university("INJE", name_ko="인제대학교", name_en="Inje University")
        self.cohort = make.cohort(uni, name="2027-1")
        self.course = make.course(cohorts=[self.cohort], instructors=[self.instructor], code="MAI-101",
                                  title_ko="제조 AI", title_en="Manufacturing AI")
        self.lab1 = make.assignment(self.course, "lab1_predictive_maintenance", max_points=10.0,
                                    title_ko="실습1 예지보전", skills={"predictive_maintenance": 3})
        self.lab2 = make.assignment(self.course, "lab2_quality", max_points=10.0, title_ko="실습2 품질",
                                    skills={"data_preparation": 2})

    def trainee(self, name: str, scores: tuple[float, float] | None = (8.0, 7.0)):
        trainee = self.make.enrolled_student(self.cohort, name=name)
        if scores:
            for assignment, score in zip((self.lab1, self.lab2), scores):
                upsert_grade(assignment, trainee, score, "", self.instructor)
        db.session.flush()
        return trainee


@pytest.fixture
def world(make):
    return CohortWorld(make)
