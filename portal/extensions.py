"""Unbound extensions, bound to an app by create_app (init_app pattern)."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

import portal.core.sqlite  # noqa: F401  (the pragmas of every SQLite connection)
from portal.core.db import Base

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()  # portal.core.i18n: the locale selector, the catalogs, the language switcher
