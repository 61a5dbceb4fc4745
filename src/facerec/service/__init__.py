"""The HTTP service: REST API (FastAPI) and a web page, served by one process."""
