"""Every blueprint, in one list (create_app registers them in this order)."""

from portal.accounts.admin.views import bp as people_views
from portal.accounts.api import bp as accounts_api
from portal.accounts.views import bp as accounts_views
from portal.audit.views import bp as audit_views
from portal.core.brand import bp as brand_views
from portal.core.uploads_views import bp as uploads_views
from portal.events.api import bp as events_api
from portal.events.views import bp as events_views
from portal.notifications.views import bp as notifications_views
from portal.openapi.views import bp as openapi_views
from portal.ops.views import bp as ops_views
from portal.seats.api import bp as seats_api
from portal.seats.feed_views import bp as calendar_feed_views
from portal.seats.log_views import bp as training_log_views
from portal.seats.standing_api import bp as standing_api
from portal.seats.standing_views import bp as standing_views
from portal.seats.views import bp as seats_views
from portal.training.api import bp as training_api
from portal.training.ended_views import bp as ended_views
from portal.training.instructors_views import bp as instructors_views
from portal.training.recordings_views import bp as recordings_views
from portal.training.series_api import bp as series_api
from portal.training.views import bp as training_views
from portal.video.views import bp as video_views

BLUEPRINTS = [
    accounts_views,
    accounts_api,
    people_views,
    events_views,
    events_api,
    training_views,
    training_api,
    recordings_views,
    ended_views,
    series_api,
    seats_views,
    seats_api,
    training_log_views,
    calendar_feed_views,
    standing_api,
    standing_views,
    video_views,
    audit_views,
    notifications_views,
    ops_views,
    openapi_views,
    brand_views,
    uploads_views,
    instructors_views,
]
