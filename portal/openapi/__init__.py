"""The JSON API as a contract: its OpenAPI 3.1 document and the page that renders it.

The document is built from the code, so it cannot drift from the handlers: paths, methods and path parameters come
from the Flask url_map; what each operation takes and answers is declared once per endpoint (operations.py); the
shapes are declared once each (schemas.py), from the packages' own enums, limits, columns and dataclasses.
tests/test_openapi.py fails when a route under /api/ has no documented operation, and tests/test_api_fuzz.py holds
every answer of the running handlers to the document.

This package stands beside portal/app.py, above every concept package (it documents all of them): it may import any
of them, and none of them imports it.
"""
