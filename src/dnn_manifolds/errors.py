"""The package's error classes.

Everything a user can fix — a bad file, option, configuration value or argument — raises a
:class:`UserError` (a :class:`ValueError`) whose message is one line naming the culprit and,
where there is a choice, the allowed values. The command line reports a ``UserError`` (and an
``OSError``: missing files, permissions, a full disk) as ``dnn-manifolds: error: <message>``
with exit status 2; any other exception is a bug and is shown with its traceback.
"""

from __future__ import annotations

__all__ = ["UserError", "OptionError"]


class UserError(ValueError):
    """An error the user can fix; its message is one line."""


class OptionError(UserError):
    """A bad analysis option: unknown name, wrong type or value out of range.

    The message names the option and the allowed values, e.g.
    ``capacity option 'projection': must be one of ['gaussian', 'neurons']; got 'x'``.
    """
