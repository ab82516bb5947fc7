"""One module per API area; each handler is ``(app, req, **path params) -> Response``.

``routes.py`` says which handler answers which method and path.
"""
