"""Admin pages name people, not user ids.

Users are another service's rows: a model here keeps a plain UUID column. A page looks its people
up through `users.interface` in one batch (`get_users`: one gRPC call in split mode, whatever the
number of rows) and the search box finds rows by a person's email or name the same way. The labels
land on each object as `people` ({column: label}), which the models' `__str__` use, so the page
titles, breadcrumbs, messages and "Recent actions" name people too.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import admin
from django.db.models import Q
from django.forms.models import BaseInlineFormSet

from users.interface import MAX_PAGE_SIZE, User, user_service


def person_label(user: User) -> str:
    return f"{user.email} ({user.display_name})" if user.display_name else user.email


def attach_people(objs: Iterable, fields: Iterable[str]) -> None:
    """Set `obj.people[field]` on every object: the person that user-id column names (None when
    empty; the id itself for a user the users service does not know)."""
    objs, fields = list(objs), list(fields)
    ids = list({getattr(obj, field) for obj in objs for field in fields} - {None})
    found = {user.id: person_label(user) for user in user_service.get_users(user_ids=ids)} if ids else {}
    for obj in objs:
        obj.people = {
            field: None if (user_id := getattr(obj, field)) is None else found.get(user_id, str(user_id))
            for field in fields
        }


def person(field: str, description: str, nobody: str = "—"):
    """A list or detail column showing the person in `field` (attached, else looked up for the object)."""

    @admin.display(description=description, ordering=field)
    def show(self, obj):
        if not hasattr(obj, "people"):
            self.attach_people([obj])
        return obj.people[field] or nobody

    return show


class PeopleAdmin(admin.ModelAdmin):
    people_fields: tuple[str, ...] = ()  # the model's user-id columns

    def attach_people(self, objs) -> None:
        attach_people(objs, self.people_fields)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        self.attach_people(changelist.result_list)  # one lookup for the page
        return changelist

    def get_fields(self, request, obj=None):
        # The raw id columns leave the detail page; a `person` column shows who they name.
        return [name for name in super().get_fields(request, obj) if name not in self.people_fields]

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            self.attach_people([obj])
        return obj

    def get_search_results(self, request, queryset, search_term):
        """Also the rows whose people match the term (a substring of an email or a name)."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term and self.people_fields:
            ids = [user.id for user in user_service.list_users(search=term, limit=MAX_PAGE_SIZE).results]
            if ids:
                results |= queryset.filter(self.people_query(ids))
        return results, may_have_duplicates

    def people_query(self, user_ids) -> Q:
        """The rows that name any of these users."""
        matching = Q()
        for field in self.people_fields:
            matching |= Q(**{f"{field}__in": user_ids})
        return matching


class PeopleInlineFormSet(BaseInlineFormSet):
    """An inline's rows with their people attached in one lookup (see PeopleInline)."""

    def get_queryset(self):
        fresh = not hasattr(self, "_queryset")
        queryset = super().get_queryset()
        if fresh:
            attach_people(queryset, self.people_fields)  # evaluates it: the rows keep their labels
        return queryset


class PeopleInline(admin.TabularInline):
    formset = PeopleInlineFormSet
    people_fields: tuple[str, ...] = ()

    def attach_people(self, objs) -> None:
        attach_people(objs, self.people_fields)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"people_fields": self.people_fields})
