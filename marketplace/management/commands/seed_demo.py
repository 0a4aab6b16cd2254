from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings

from marketplace.demo import demo_logins, load_demo_data


class Command(BaseCommand):
    help = "Fills an empty database with demo skills, coaches and clients, and prints the logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete everything in the database first (development only), so the demo's "
            "times are fresh again.",
        )

    def handle(self, *args, **options):
        if options["reset"]:
            self._empty_the_database()
        # The demo's bookings and requests would email their made-up people: not here.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            loaded = load_demo_data()
        if loaded:
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        else:
            self.stdout.write("The database already has users; demo data left as it is.")
        logins = demo_logins()
        if logins:
            self.stdout.write(
                "\nDemo logins (all coaches and clients *@demo.hse share the password):"
            )
            for role, email, password in logins:
                self.stdout.write(f"  {role:<7} {email:<20} {password}")

    def _empty_the_database(self) -> None:
        if not settings.DEBUG:
            raise CommandError("--reset deletes every row: it runs only with DEBUG on.")
        if connection.vendor == "sqlite":
            # The wallet's triggers refuse a DELETE (a flush), so the file goes and the
            # tables are made anew.
            path = Path(connection.settings_dict["NAME"])
            if not path.is_file():
                raise CommandError(f"--reset needs the SQLite database to be a file, not {path}.")
            connection.close()
            path.unlink()
            call_command("migrate", interactive=False, verbosity=0)
        else:
            call_command("flush", interactive=False, verbosity=0)
        self.stdout.write("The database was emptied.")
