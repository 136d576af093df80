"""The multi-factor authentication admin pages (DESIGN §4), one module per tab or page."""
