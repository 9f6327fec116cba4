"""Device farm: run models x devices x configurations from a farm file, keep every result in a SQLite store,
report (HTML, JUnit) and gate regressions against a baseline run."""

# A submitted run's priority (`farm submit --priority`): a device runs the queued jobs of higher-priority runs first.
# Here, not in dispatch.py, so the CLI reads them without importing SQLAlchemy.
PRIORITY_MIN, PRIORITY_MAX, PRIORITY_DEFAULT = 1, 9, 5
