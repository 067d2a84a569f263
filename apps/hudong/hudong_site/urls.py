"""Every URL lives under /hudong/, the path the portal's nginx proxies to gunicorn."""

from django.urls import include, path

urlpatterns = [path("hudong/", include("liuyan.urls"))]
