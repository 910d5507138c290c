"""The target repository: git worktrees and commits, the shared remote, pull requests."""
