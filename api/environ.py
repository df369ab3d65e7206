"""The keys under which the app notes things about a request in its WSGI environ.

api/access.py (the wrapper that logs and counts every request) reads them after Flask is
done; api/auth.py and the request class write them; api/logs.py reads the request id.
"""

REQUEST_ID = "people_api.request_id"
REQUEST = "people_api.request"  # the Flask request object, which knows the matched route
TOKEN_NAME = "people_api.token_name"
AUTH_FAILURE = "people_api.auth_failure"  # why a request was refused, for the metrics
