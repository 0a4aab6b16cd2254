"""The wallet ledger is append-only: the database itself refuses UPDATE and DELETE."""

from django.db import migrations

from hse.migration_ops import VendorSQL

POSTGRES_FORWARD = [
    """CREATE FUNCTION payments_wallet_entry_frozen() RETURNS trigger AS $$
       BEGIN
         RAISE EXCEPTION 'wallet entries are append-only: % is refused', TG_OP;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER payments_wallet_entry_frozen
       BEFORE UPDATE OR DELETE ON payments_walletentry
       FOR EACH ROW EXECUTE FUNCTION payments_wallet_entry_frozen()""",
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER payments_wallet_entry_frozen ON payments_walletentry",
    "DROP FUNCTION payments_wallet_entry_frozen()",
]
SQLITE_FORWARD = [
    """CREATE TRIGGER payments_wallet_entry_no_update BEFORE UPDATE ON payments_walletentry
       BEGIN SELECT RAISE(ABORT, 'wallet entries are append-only: UPDATE is refused'); END""",
    """CREATE TRIGGER payments_wallet_entry_no_delete BEFORE DELETE ON payments_walletentry
       BEGIN SELECT RAISE(ABORT, 'wallet entries are append-only: DELETE is refused'); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER payments_wallet_entry_no_update",
    "DROP TRIGGER payments_wallet_entry_no_delete",
]


class Migration(migrations.Migration):
    dependencies = [("payments", "0002_initial")]

    operations = [
        VendorSQL("postgresql", POSTGRES_FORWARD, POSTGRES_BACKWARD),
        VendorSQL("sqlite", SQLITE_FORWARD, SQLITE_BACKWARD),
    ]
