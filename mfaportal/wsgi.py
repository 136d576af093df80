import logging
import os

from django.core import checks
from django.core.management.base import SystemCheckError
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mfaportal.settings")
application = get_wsgi_application()

# gunicorn (any WSGI server) runs no system checks: the portal's own (tag "mfaportal") run
# here, so a worker refuses to boot on an error as runserver and manage.py do, and warnings
# reach the log at start-up.
_found = checks.run_checks(tags=["mfaportal"])
for _message in _found:
    logging.getLogger("mfaportal.startup").log(_message.level, "%s", _message)
if any(_message.is_serious() for _message in _found):
    raise SystemCheckError("\n".join(str(m) for m in _found if m.is_serious()))
