"""The domain: services, repositories and their rules.

``tenancy.usage`` is imported with the package: its listener raises a company's quota bounds for
every conference or participant row any domain code adds, so none may add one without it.
"""

from podium.domain.tenancy import usage as _usage  # noqa: F401
