"""Runs INSIDE the box: the built app, served on a unix socket for the fuzz gate (fuzz.py).

Usage: python petsage_serve.py <socket> <tree>

The fuzzer runs in a box of its own and reaches this app only over HTTP through that socket:
nothing the app's modules do in this process can reach the fuzzer's checks or its results.
The app gets a fresh in-memory database (the fixture's, not a file), as in the tests.
"""

import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        return 2
    socket_path, tree = argv
    sys.path.insert(0, tree)
    from src.main import app  # type: ignore[import-not-found]

    try:  # the database layer (src/db.py): a fresh in-memory database for the fuzzed app
        import src.tables  # type: ignore[import-not-found]  # noqa: F401
        from sqlalchemy.orm import sessionmaker
        from sqlalchemy.pool import StaticPool
        from src.db import Base, get_session, make_engine  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        engine = make_engine("sqlite://", poolclass=StaticPool)
        Base.metadata.create_all(engine)
        sessions = sessionmaker(bind=engine, expire_on_commit=False)

        def session():  # type: ignore[no-untyped-def]
            with sessions() as opened:
                yield opened

        app.dependency_overrides[get_session] = session
    import uvicorn

    uvicorn.run(app, uds=socket_path, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
