"""The one error class of the app's own checks: its message is worded per request, in the
browser's language."""

from __future__ import annotations


class LocalizedError(ValueError):
    """A problem the user is told about: `key` names its message in `MESSAGES`, `values` fill it,
    so the caller words it in the browser's language (`message(error.key, lang, **error.values)`)."""

    def __init__(self, key: str, **values):
        self.key = key
        self.values = values
        super().__init__(f"{key}: {values}")
