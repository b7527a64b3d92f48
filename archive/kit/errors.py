"""Typed domain errors. Services raise these; api/ renders them once as application/problem+json."""

from __future__ import annotations


class ChatVaultError(Exception):
    status = 500
    code = "internal"

    def __init__(self, detail: str = "", **extra: object) -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code
        self.extra = extra


class NotFound(ChatVaultError):
    status = 404
    code = "not_found"


class Forbidden(ChatVaultError):
    status = 403
    code = "forbidden"


class Unauthorized(ChatVaultError):
    status = 401
    code = "unauthorized"


class StepUpRequired(ChatVaultError):
    status = 401
    code = "step_up_required"


class InvalidInput(ChatVaultError):
    status = 422
    code = "invalid_input"


class Conflict(ChatVaultError):
    status = 409
    code = "conflict"


class ConfigurationError(ChatVaultError):
    status = 500
    code = "configuration"


class IntegrityViolation(ChatVaultError):
    """Decryption or hash check failed: the record, its wrapped key or its binding was altered."""

    status = 500
    code = "integrity_violation"


class ServiceUnavailable(ChatVaultError):
    status = 503
    code = "service_unavailable"
