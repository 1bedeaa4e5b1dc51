"""Every table of the service, for Alembic and the schema check."""

from crm import audit  # noqa: F401  (registers its tables)
from crm.auth import models as auth_models  # noqa: F401
from crm.blacklist import models as blacklist_models  # noqa: F401
from crm.lockout import models as lockout_models  # noqa: F401
from crm.models import Base
from crm.organizations import models as organization_models  # noqa: F401
from crm.outbox import models as outbox_models  # noqa: F401
from crm.recordings import models as recording_models  # noqa: F401
from crm.signup import models as signup_models  # noqa: F401

metadata = Base.metadata
