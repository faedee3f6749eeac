"""Which service owns which public path: the single base URL's routing table."""

from __future__ import annotations

ROUTES: dict[str, str] = {
    "/api/auth": "plans",
    "/api/users": "plans",
    "/api/tokens": "plans",
    "/api/units": "plans",
    "/api/plans": "plans",
    "/api/assignments": "tasks",
    "/api/evidence": "tasks",
    "/api/notifications": "notify",
    "/api/reports": "reports",
}


def service_for_path(path: str) -> str:
    """The owning service of an /api path; KeyError if no service owns it."""
    clean = path.split("?", 1)[0]
    for prefix, service in ROUTES.items():
        if clean == prefix or clean.startswith(prefix + "/"):
            return service
    raise KeyError(path)
