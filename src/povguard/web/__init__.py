"""Web pages (server-rendered, Chinese by default, English with ``?lang=en``).

``create_app`` assembles the pages, the JSON API under ``/api/v1``, ``/healthz``
and the package's own CSS; nothing is loaded from the network.
"""

from povguard.web.app import create_app
from povguard.web.i18n import LANG_COOKIE, Translator, resolve_language
from povguard.web.security import SECURITY_HEADERS, SecurityHeadersMiddleware

__all__ = [
    "LANG_COOKIE",
    "SECURITY_HEADERS",
    "SecurityHeadersMiddleware",
    "Translator",
    "create_app",
    "resolve_language",
]
