from __future__ import annotations

from django.urls import path

from nurture.sales import views

app_name = "sales"
urlpatterns = [
    path("sales/", views.index, name="index"),
    path("sales/pipelines/<int:pipeline_id>/", views.board_view, name="board"),
    path("sales/pipelines/settings", views.pipelines, name="pipelines"),
    path("sales/pipelines/new", views.pipeline_edit, name="pipeline_new"),
    path("sales/pipelines/<int:pipeline_id>/edit", views.pipeline_edit, name="pipeline_edit"),
    path("sales/pipelines/lost-reasons", views.lost_reasons, name="lost_reasons"),
    path("sales/deals/", views.deal_list, name="deals"),
    path("sales/deals/<int:deal_id>/", views.deal_detail, name="deal"),
    path("sales/deals/<int:deal_id>/timeline", views.deal_timeline, name="deal_timeline"),
    path("sales/deals/<int:deal_id>/move", views.move, name="move"),
    path("sales/deals/<int:deal_id>/edit", views.deal_edit, name="deal_edit"),
    path("sales/deals/<int:deal_id>/won", views.deal_won, name="won"),
    path("sales/deals/<int:deal_id>/lost", views.deal_lost, name="lost"),
    path("sales/agenda/", views.agenda, name="agenda"),
    path("sales/overdue/", views.overdue, name="overdue"),
    path("sales/tasks/<int:task_id>/done", views.task_done, name="task_done"),
    path("contacts/<int:contact_id>/deals/new", views.deal_new, name="deal_new"),
    path("contacts/<int:contact_id>/convert", views.convert, name="convert"),
    path("contacts/<int:contact_id>/tasks", views.task_new, name="task_new"),
    path("contacts/<int:contact_id>/activities", views.log, name="log"),
]
