"""`python -m agent.cli`: the command line."""

import sys

from agent.cli import main

sys.exit(main())
