from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    # allauth's email addresses already appear in the admin as "Accounts".
    verbose_name = "People and outgoing email"
