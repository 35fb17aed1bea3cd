"""No views: the project only exists for its migrations."""

urlpatterns: list = []
