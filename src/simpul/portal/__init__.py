"""The web portal: server-rendered pages for every role, over the same service functions
as the API and the CLI. See docs/portal.md."""
