"""The one error the template layer raises; the API turns it into a ValidationError."""

from __future__ import annotations


class TemplateError(ValueError):
    """A template, parameter or intrinsic function problem; str() is AWS's message."""
