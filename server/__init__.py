"""The hall server: `server.app.create_app(config)` wires the subsystems below.

web/       the published build over HTTP: catalog, manifests, plan, objects, viewer files, live rebuild
hub/       the WebSocket hub: presence, guided tours, reload notices (in-process or over Redis)
learning/  members and sessions, quiz grading, the learning record, xAPI statements, outbox, reports
lrs/       the embedded learning-record store (xAPI 1.0.3 at /xapi/)
config.py, database.py, logs.py, cli.py   settings, SQLite with group commit, log formats, `halls serve`
"""
