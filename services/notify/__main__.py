from services.notify.app import create_service
from shared import sealing
from shared.runtime import serve
from shared.settings import Settings

settings = Settings()
sealing.check(settings)  # no key (or a bad one) for webhook secrets stops the process at start
serve(create_service(settings))
