"""Where builds run: threads, Celery workers, and the runner that executes a stored build."""
