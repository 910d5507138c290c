"""The review workflow: a build's pull request opened, replayed onto a moved base, refreshed
and merged (`pulls`, `rebase`, `refresh`, `forge_pull`); git itself is `agent.repo`."""
