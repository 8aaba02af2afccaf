"""The skills the labs teach, seeded into the catalogue (codes match courses/*/syllabus.toml)."""
from __future__ import annotations

SKILLS: list[tuple[str, str, str]] = [
    ("data_preparation", "데이터 전처리", "Data preparation"),
    ("model_evaluation", "모델 평가", "Model evaluation"),
    ("predictive_maintenance", "예지 보전", "Predictive maintenance"),
    ("imbalanced_classification", "불균형 분류", "Imbalanced classification"),
    ("time_series_regression", "시계열 회귀", "Time-series regression"),
    ("energy_analytics", "공정 에너지 분석", "Process energy analytics"),
    ("computer_vision_inspection", "비전 검사", "Computer vision for inspection"),
    ("deep_learning", "딥러닝(PyTorch)", "Deep learning (PyTorch)"),
    ("signal_processing", "진동 신호 처리", "Signal processing for vibration"),
    ("rul_prognostics", "잔존 수명 예측", "Remaining-useful-life prognostics"),
    ("python_programming", "파이썬 프로그래밍", "Python programming"),
    ("mlops", "MLOps 배포·운영", "MLOps: deployment and operation"),
]


def seed_skills() -> int:
    """Add any catalogue skill that is missing; return how many were added."""
    from academy.extensions import db
    from academy.skills.models import Skill

    existing = set(db.session.scalars(db.select(Skill.code)))
    added = 0
    for code, ko, en in SKILLS:
        if code not in existing:
            db.session.add(Skill(code=code, name_ko=ko, name_en=en))
            added += 1
    return added
