"""The web dashboard: pages and their JSON API over the read-only views of ``storage``.

``web.app.create_app`` builds the ASGI app; ``web.server.run`` serves it (``tapewatch web``,
and one supervised worker of ``tapewatch up``). Every page fetches the same ``/api/v1`` JSON
that anyone else can; the SQL lives in ``web.queries``, one module per page.
"""
