"""The dashboard's SQL, one module per page; each function takes a connection and returns the
JSON-ready answer the page and the API share."""
