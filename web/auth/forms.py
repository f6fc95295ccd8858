"""Login form (Flask-WTF gives CSRF protection)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField(_l("اسم المستخدم"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("كلمة المرور"), validators=[DataRequired(), Length(max=256)])
    next = HiddenField()
