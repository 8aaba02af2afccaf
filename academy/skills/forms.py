"""Forms of the skills catalogue."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class SkillNamesForm(FlaskForm):
    name_ko = StringField(_l("Name (Korean)"), validators=[DataRequired(), Length(max=80)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=80)])


class SkillForm(SkillNamesForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)])
