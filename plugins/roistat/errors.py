"""The package's exceptions: one base class, a shallow tree.

Callers catch `RoistatError` for anything this package raises on purpose. The
subclasses also derive from the builtin that fits, so code that only knows
`ValueError` still catches a bad setting.
"""

from __future__ import annotations


class RoistatError(Exception):
    """Base class of every error this package raises on purpose."""


class SettingsError(RoistatError, ValueError):
    """The integration settings are invalid; the message names the key."""


class WarehouseError(RoistatError):
    """The warehouse PostgreSQL cannot be reached or prepared."""
