"""The web UI: pages served at / by `tracejudge serve` over the same services as the MCP tools
(app.py: routes and security headers; api/: the JSON API, a module per page group, share.py the
labeling links' part; login.py: sign-in and the write guard; static/: the front end, Preact and htm
with no build step), and the MCP Apps views made from that front end (apps.py: the ui:// resources
and their tools; bundle.py: one self-contained document each)."""
