from services.plans.models import SCHEMA, metadata
from shared.migrations import run_env

run_env(metadata, SCHEMA)
