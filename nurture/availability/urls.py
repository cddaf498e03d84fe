from __future__ import annotations

from django.urls import path

from nurture.availability import views  # noqa

app_name = "availability"
urlpatterns = [
    path("availability/", views.overview, name="overview"),
    path("availability/hours", views.save_hours, name="hours"),
    path("availability/holidays", views.add_holiday, name="add_holiday"),
    path("availability/holidays/<str:day>/delete", views.delete_holiday, name="delete_holiday"),
    path("availability/reps/<int:user_id>/", views.rep_schedule, name="schedule"),
    path("availability/leave", views.add_leave, name="add_leave"),
    path("availability/leave/<int:leave_id>/cancel", views.cancel_leave, name="cancel_leave"),
    path("availability/me", views.me, name="me"),
    path("availability/me/accepting", views.accepting, name="accepting"),
]
