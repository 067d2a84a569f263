from django.contrib.auth import views as auth_views
from django.urls import path

from liuyan import views

app_name = "liuyan"
urlpatterns = [
    path("", views.index, name="index"),
    path("liuyan/", views.submit, name="submit"),
    path("guanli/", views.staff, name="staff"),
    path("guanli/<int:pk>/", views.answer, name="answer"),
    path("guanli/login/", views.staff_network(auth_views.LoginView.as_view(
        template_name="liuyan/login.html")), name="login"),
    path("guanli/logout/", views.staff_network(auth_views.LogoutView.as_view(
        next_page="liuyan:login")), name="logout"),
]
