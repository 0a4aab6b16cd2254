from django.urls import path

from messaging import views

app_name = "messaging"
urlpatterns = [
    path("", views.conversation_list, name="list"),
    path("unread/", views.unread, name="unread"),
    path("<int:conversation_id>/", views.thread, name="thread"),
    path("<int:conversation_id>/read/", views.read, name="read"),
    path("with/<int:user_id>/", views.start, name="start"),
]
