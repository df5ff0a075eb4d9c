from django.urls import path

from . import pages

urlpatterns = [
    path("verify-email", pages.verify_email, name="page-verify-email"),
    path("reset-password", pages.reset_password, name="page-reset-password"),
]
