"""``python -m bench``: the users page and bulk steps timed at 1k, 10k and 100k users."""
