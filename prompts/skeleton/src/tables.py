"""Every feature's table module, imported so that `Base.metadata` knows every table.

PetSage Builder keeps this file (one import a feature, as it wires `src/main.py`); Alembic's
`migrations/env.py` and the tests import it.
"""
