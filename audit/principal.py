"""Who is asking: roles, what each role may do, and the data scope it reaches."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Action(StrEnum):
    SEARCH = "search"
    READ_CONTENT = "read_content"
    EXPORT = "export"
    READ_AUDIT = "read_audit"
    REVIEW_ALERTS = "review_alerts"
    ADMIN_LEXICON = "admin_lexicon"
    ADMIN_RETENTION = "admin_retention"
    ADMIN_USERS = "admin_users"
    IMPORT = "import"


class Role(StrEnum):
    ADMIN = "admin"
    COMPLIANCE = "compliance"
    MANAGER = "manager"
    AUDITOR = "auditor"
    EMPLOYEE = "employee"
    OUTSOURCED = "outsourced"
    OPERATOR = "operator"  # the local CLI identity


# Separation of duties: admin configures but does not read content unless also given a reading role.
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset({Action.ADMIN_LEXICON, Action.ADMIN_RETENTION, Action.ADMIN_USERS, Action.IMPORT}),
    Role.COMPLIANCE: frozenset({Action.SEARCH, Action.READ_CONTENT, Action.EXPORT, Action.REVIEW_ALERTS}),
    Role.MANAGER: frozenset({Action.SEARCH, Action.READ_CONTENT, Action.REVIEW_ALERTS}),
    Role.AUDITOR: frozenset({Action.READ_AUDIT}),
    Role.EMPLOYEE: frozenset({Action.SEARCH, Action.READ_CONTENT}),
    Role.OUTSOURCED: frozenset({Action.SEARCH, Action.READ_CONTENT}),
    Role.OPERATOR: frozenset(Action),
}
ALL_SCOPE_ROLES = frozenset({Role.ADMIN, Role.COMPLIANCE, Role.AUDITOR, Role.OPERATOR})
MASKED_ROLES = frozenset({Role.OUTSOURCED})


@dataclass(frozen=True)
class Principal:
    username: str
    roles: frozenset[Role]
    account_id: int | None = None
    employee_id: int | None = None
    scope_department_ids: tuple[int, ...] | None = field(default=None)  # a manager's department subtree

    def can(self, action: Action) -> bool:
        return any(action in PERMISSIONS[r] for r in self.roles)

    @property
    def sees_all(self) -> bool:
        return bool(self.roles & ALL_SCOPE_ROLES)

    @property
    def masked(self) -> bool:
        """Outsourced staff see masked PII unless they also hold an unmasked reading role."""
        readers = {r for r in self.roles if Action.READ_CONTENT in PERMISSIONS[r]}
        return bool(readers) and readers <= MASKED_ROLES


def operator(name: str = "local-operator") -> Principal:
    """The identity of the local CLI; its reads are audited like anyone else's."""
    return Principal(username=name, roles=frozenset({Role.OPERATOR}))
