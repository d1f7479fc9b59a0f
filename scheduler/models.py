"""Import every model so Alembic and `db.create_all` see the whole schema."""
from .audit.models import AuditEntry  # noqa: F401
from .auth.models import AccountLink, ApiToken, Organisation, User  # noqa: F401
from .events.models import Event  # noqa: F401
from .invitations.models import Invitation  # noqa: F401
from .notifications.models import Message  # noqa: F401
from .presence.models import Certificate, Presence, WalkIn  # noqa: F401
from .projects.models import Project  # noqa: F401
from .surveys.models import Survey, SurveyLink, SurveyResponse  # noqa: F401
from .registration.models import Participant, Registration, Scan  # noqa: F401
