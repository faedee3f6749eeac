from services.notify.app import create_service
from shared.runtime import serve
from shared.settings import Settings

serve(create_service(Settings()))
