"""The web console: server-rendered pages (Jinja2, a little plain JavaScript, no build step) under ``/console``.

``pages.install(app)`` mounts it (``cauri.app`` calls it when this package exists). See ``docs/console.md``.
"""
