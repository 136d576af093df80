"""gunicorn settings for production (see docs/deployment.md); every value from the environment."""

import os

bind = os.environ.get("MFAPORTAL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("MFAPORTAL_WORKERS", "2"))
threads = int(os.environ.get("MFAPORTAL_THREADS", "4"))
timeout = int(os.environ.get("MFAPORTAL_REQUEST_TIMEOUT", "60"))
graceful_timeout = 30
# Trust X-Forwarded-* only from the reverse proxy in front of gunicorn.
forwarded_allow_ips = os.environ.get("MFAPORTAL_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
# No query strings in the access log: they can carry user names and search terms.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
errorlog = "-"
wsgi_app = "mfaportal.wsgi:application"
