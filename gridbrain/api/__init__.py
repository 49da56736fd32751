"""The HTTP API and the live page (FastAPI, served by uvicorn: ``gridbrain api``)."""
