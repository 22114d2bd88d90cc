from alembic import context

from wpis_common.migrate import run_env
from wpis_statistics.models import Base

run_env(context, Base.metadata)
