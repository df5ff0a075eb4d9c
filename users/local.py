"""The in-process implementation of UserService."""

from __future__ import annotations

import uuid

from users.core import selectors, services
from users.interface import DEFAULT_PAGE_SIZE, User, UserPage
from users.models import User as UserModel


def to_data(user: UserModel) -> User:
    return User(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        is_active=user.is_active,
        is_verified=user.is_verified,
        is_staff=user.is_staff,
        is_superuser=user.is_superuser,
        date_joined=user.date_joined,
        pending_email=user.pending_email,
        has_password=user.has_usable_password(),
    )


class LocalUserService:
    def create_user(
        self,
        *,
        email: str,
        password: str | None = None,
        display_name: str = "",
        is_active: bool = True,
        is_verified: bool = False,
        is_staff: bool = False,
        is_superuser: bool = False,
    ) -> User:
        return to_data(
            services.create_user(
                email=email,
                password=password,
                display_name=display_name,
                is_active=is_active,
                is_verified=is_verified,
                is_staff=is_staff,
                is_superuser=is_superuser,
            )
        )

    def get_user(self, *, user_id: uuid.UUID) -> User:
        return to_data(selectors.get_user(user_id=user_id))

    def get_user_by_email(self, *, email: str) -> User:
        return to_data(selectors.get_user_by_email(email=email))

    def get_users(self, *, user_ids: list[uuid.UUID]) -> list[User]:
        return [to_data(user) for user in selectors.get_users(user_ids=user_ids)]

    def list_users(
        self,
        *,
        search: str | None = None,
        is_active: bool | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> UserPage:
        users, next_cursor = selectors.list_users(search=search, is_active=is_active, limit=limit, cursor=cursor)
        return UserPage(results=tuple(to_data(user) for user in users), next=next_cursor)

    def update_user(
        self,
        *,
        user_id: uuid.UUID,
        email: str | None = None,
        display_name: str | None = None,
        is_verified: bool | None = None,
    ) -> User:
        return to_data(
            services.update_user(user_id=user_id, email=email, display_name=display_name, is_verified=is_verified)
        )

    def confirm_email_change(self, *, user_id: uuid.UUID, email: str) -> User:
        return to_data(services.confirm_email_change(user_id=user_id, email=email))

    def verify_password(self, *, email: str, password: str) -> User | None:
        user = services.verify_password(email=email, password=password)
        return None if user is None else to_data(user)

    def check_password(self, *, user_id: uuid.UUID, password: str) -> bool:
        return services.check_password(user_id=user_id, password=password)

    def set_password(self, *, user_id: uuid.UUID, password: str) -> None:
        services.set_password(user_id=user_id, password=password)

    def deactivate_user(self, *, user_id: uuid.UUID) -> User:
        return to_data(services.deactivate_user(user_id=user_id))
