from django.contrib.auth import views as auth_views
from django.urls import path

from notes import views

urlpatterns = [
    path("", views.index),
    path("healthz", views.healthz),
    path("whoami", views.whoami),
    path("echo-auth", views.echo_auth),
    path("slow", views.slow),
    path("page", views.page),
    path("private/", views.private),
    path("accounts/login/", auth_views.LoginView.as_view()),
    path("notes/", views.notes),
    path("notes/<int:note_id>", views.note),
    path("status/301", views.moved_permanently),
    path("status/302", views.found),
    path("status/400", views.bad_request),
    path("status/401", views.unauthorized),
    path("status/403", views.forbidden),
    path("status/500", views.server_error),
]
