from services.plans.app import create_service
from shared.runtime import serve
from shared.settings import Settings

settings = Settings()
if not settings.secret("auth_signing_key"):  # the token exchange would fail at its first request
    raise SystemExit("CCHC_AUTH_SIGNING_KEY(_FILE) chưa được đặt: dịch vụ plans không ký được mã xác thực")
serve(create_service(settings))
