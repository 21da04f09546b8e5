"""The gateway's settings: the nested model (model.py), the names operators give them
(names.py), what is wrong with them in one line each (problems.py), and their listing for
``mosaic config`` and the README (listing.py)."""

from gateway.settings.model import ApiKey, Settings
from gateway.settings.problems import SettingsProblem, load, unknown_variables

__all__ = ["ApiKey", "Settings", "SettingsProblem", "load", "unknown_variables"]
