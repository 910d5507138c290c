"""PetSage API: the FastAPI application every feature router plugs into.

PetSage Builder wires each feature here (an import and an `app.include_router` line);
everything else in this file is yours.
"""

from fastapi import FastAPI

# PetSage System Blueprint: API Versioning
API_V1_PREFIX = "/api/v1"

app = FastAPI(
    title="PetSage API",
    description="Backend services for the PetSage platform.",
    version="1.0.0",
)


# Root endpoint for basic connectivity check
@app.get("/", tags=["Root"])
async def read_root() -> dict[str, str]:
    return {"message": "Welcome to the PetSage API"}
