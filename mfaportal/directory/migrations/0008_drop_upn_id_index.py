"""The index on (user_principal_name, id) goes: no query orders by it, and every look-up by
user principal name is served by the column's unique index (exact) or by the expression
indexes (case-insensitive: LOWER for sign-in, UPPER for the list's order, the prefix index
for search). EXPLAIN of the 81 statements on the users table that the users list, active
users, report and sign-in tests send, on 100k users: not one plan changes without it. Every
full sync paid to keep it up to date (issue 15)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("directory", "0007_session_drop_password_verified_at")]

    operations = [
        migrations.RemoveIndex(model_name="directoryuser", name="directory_user_upn_id"),
    ]
