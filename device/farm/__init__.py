"""Device farm: run models x devices x configurations from a farm file, keep every result in a SQLite store,
report (HTML, JUnit) and gate regressions against a baseline run."""
