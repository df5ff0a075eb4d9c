from django.urls import path

from . import views

urlpatterns = [
    path("verify-email", views.VerifyEmailApi.as_view(), name="auth-verify-email"),
    path("token", views.TokenApi.as_view(), name="auth-token"),
    path("token/refresh", views.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("logout", views.LogoutApi.as_view(), name="auth-logout"),
    path("sessions", views.SessionListApi.as_view(), name="auth-sessions"),
    path("sessions/<uuid:session_id>", views.SessionDetailApi.as_view(), name="auth-session"),
    path("password/change", views.PasswordChangeApi.as_view(), name="auth-password-change"),
    path("password/reset", views.PasswordResetApi.as_view(), name="auth-password-reset"),
    path("password/reset/confirm", views.PasswordResetConfirmApi.as_view(), name="auth-password-reset-confirm"),
    path("mfa/totp", views.TotpApi.as_view(), name="auth-totp"),
    path("mfa/totp/confirm", views.TotpConfirmApi.as_view(), name="auth-totp-confirm"),
    path("mfa/recovery", views.MfaRecoveryApi.as_view(), name="auth-mfa-recovery"),
    path("passkeys", views.PasskeyListApi.as_view(), name="auth-passkeys"),
    path("passkeys/register/options", views.PasskeyRegisterOptionsApi.as_view(), name="auth-passkey-register-options"),
    path("passkeys/register", views.PasskeyRegisterApi.as_view(), name="auth-passkey-register"),
    path("passkeys/login/options", views.PasskeyLoginOptionsApi.as_view(), name="auth-passkey-login-options"),
    path("passkeys/login", views.PasskeyLoginApi.as_view(), name="auth-passkey-login"),
    path("passkeys/<uuid:passkey_id>", views.PasskeyDetailApi.as_view(), name="auth-passkey"),
]
