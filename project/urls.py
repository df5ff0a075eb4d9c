from gateway.urls import urlpatterns

handler400 = "gateway.errors.handler400"
handler403 = "gateway.errors.handler403"
handler404 = "gateway.errors.handler404"
handler500 = "gateway.errors.handler500"

__all__ = ["urlpatterns"]
