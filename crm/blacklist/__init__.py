"""The blacklist: rules over a request's fields, and the indexed check of a request."""
