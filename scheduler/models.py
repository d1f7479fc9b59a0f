"""Import every model so Alembic and `db.create_all` see the whole schema."""
from .auth.models import ApiToken, Organisation, User  # noqa: F401
from .events.models import Event  # noqa: F401
from .invitations.models import Invitation  # noqa: F401
from .notifications.models import Message  # noqa: F401
from .registration.models import Participant, Registration, Scan  # noqa: F401
