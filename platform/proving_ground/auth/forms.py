from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from proving_ground.access import Role
from proving_ground.i18n import ROLE_LABELS


def role_choices():
    return [SelectChoice(role.value, ROLE_LABELS[role]) for role in Role]


def locale_choices():
    return [
        SelectChoice("", _l("Follow the browser")),
        SelectChoice("zh_CN", "中文"),
        SelectChoice("en", "English"),
    ]


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=128)]
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired()]
    )
    new_password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=12, max=128)]
    )
    confirm_password = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(),
            EqualTo("new_password", message=_l("The passwords do not match.")),
        ],
    )


class TokenCreateForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)])


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    locale = SelectField(_l("Language"), choices=locale_choices, validate_choice=True)


class UserCreateForm(FlaskForm):
    email = EmailField(
        _l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)]
    )
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    password = PasswordField(
        _l("Initial password"), validators=[DataRequired(), Length(min=12, max=128)]
    )
    roles = MultiCheckboxField(_l("Roles"), choices=role_choices)
    team = StringField(_l("Team"), validators=[Optional(), Length(max=120)])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=120)])
    locale = SelectField(_l("Language"), choices=locale_choices)


class UserEditForm(FlaskForm):
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    roles = MultiCheckboxField(_l("Roles"), choices=role_choices)
    team = StringField(_l("Team"), validators=[Optional(), Length(max=120)])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=120)])
    active = BooleanField(_l("Active"))


class ConfirmForm(FlaskForm):
    """An empty form: a POST button carrying only the CSRF token."""
