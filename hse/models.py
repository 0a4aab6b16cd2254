# The hse app has no tables; this module makes Django send it post_migrate (see apps.py).
