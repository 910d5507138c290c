"""The `verified` stage: gates that make a passing build mean something (BLUEPRINT §5).

`Verifier` (in `gates`) runs them on a built worktree, beside the main test run;
`Verification` (in `outcome`) is what the result, the report and the repair round see.
"""
