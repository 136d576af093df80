"""English dates as Office 365's admin pages show them: 03/04/2026 3:30 PM."""

SHORT_DATETIME_FORMAT = "m/d/Y g:i A"
# The audit log and the sign-in history need the second.
DATETIME_FORMAT = "m/d/Y g:i:s A"
