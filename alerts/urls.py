from django.urls import path

from . import views

app_name = "alerts"
urlpatterns = [
    path("", views.history, name="history"),
    path("<int:pk>/ack/", views.acknowledge, name="ack"),
    path("rules/", views.rules, name="rules"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/<int:pk>/silence/", views.silence, name="silence"),
]
