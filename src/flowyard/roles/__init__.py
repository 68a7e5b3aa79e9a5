"""The processes Flowyard runs as besides the API server: a standalone scheduler and a Celery worker."""
