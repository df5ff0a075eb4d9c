from django.urls import re_path

from .views import scim

urlpatterns = [re_path(r"^(?P<path>.*)$", scim, name="scim")]
