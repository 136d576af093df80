// Progressive enhancement only: every page reads and filters without this file.
