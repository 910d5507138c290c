"""The HTTP service: a FastAPI app, its build store and the job backend that runs builds."""
