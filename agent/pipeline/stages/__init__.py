"""The stages of a build round, one object each with one `run`, over the build's `BuildState`.

`FindBase` (where the build starts), then round after round `Generate` (the model's reply),
`Validate` (its bundle, checked), `WriteAndTest` (written, wired and tested in the round's
`Workbench`), `Verify` (the gates) and `Commit`. `agent.pipeline.loop` calls them in that order;
a stage hands the next its result or returns a `Rejection`, which the loop turns into the round's
record, event and feedback. No stage calls back into the loop.
"""
