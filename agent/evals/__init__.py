"""The evaluation suite's harness: how well a model builds features (`petsage-builder eval`).

A task is a folder: the request the builder gets, and acceptance tests written against the
blueprint's contract that the model never sees. Each task is built with the normal pipeline in a
fresh workspace; its acceptance tests are then copied onto the built branch and run in the
sandbox. `tasks` reads a suite, `runner` runs a task, `scoring` holds the results and their
totals, `report` and `chart` show them, `compare` sets two runs side by side, `cache` makes a run
resumable, `replay` answers from recorded replies.
"""
