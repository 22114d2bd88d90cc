from alembic import context

from contracts.models import Base
from wpis_common.migrate import run_env

run_env(context, Base.metadata)
