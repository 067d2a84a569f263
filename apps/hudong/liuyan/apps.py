from django.apps import AppConfig


class LiuyanConfig(AppConfig):
    name = "liuyan"
    verbose_name = "政民互动"
