"""Spanish dates: 04/03/2026 15:30, and to the second where the second matters."""

SHORT_DATETIME_FORMAT = "d/m/Y H:i"
DATETIME_FORMAT = "d/m/Y H:i:s"
