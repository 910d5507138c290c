"""The `verified` stage: gates that make a passing build mean something (BLUEPRINT §5).

`verify()` (in `gates`) runs them on a built worktree; `Verification` (in `outcome`) is what the
result, the report and the repair round see.
"""
