"""Wire objects exactly as protocol.md §4 shows them, and the error-code table, shared by
the tests."""

from __future__ import annotations

import agnost

SESSION = {
    "userId": "6233247fb46a9b5bb144e797",
    "token": "tok-current",
    "creationDtm": "2022-03-17T13:17:50.903Z",
    "userAgent": {
        "family": "Chrome",
        "major": "99",
        "minor": "0",
        "patch": "4844",
        "device": {"family": "Other", "major": "0", "minor": "0", "patch": "0"},
        "os": {"family": "Mac OS X", "major": "10", "minor": "15", "patch": "7"},
    },
    "accessGroupKeys": [],
}
USER = {
    "_id": "6233247fb46a9b5bb144e797",
    "provider": "agnost",
    "providerUserId": "6233247fb46a9b5bb144e797",
    "email": "john@myemail.com",
    "signUpAt": "2022-03-17T12:07:27.514Z",
    "lastLoginAt": "2022-03-17T13:17:50.878Z",
    "emailVerified": True,
    "name": "John",
    "plan": {"tier": "pro"},
}


#: (code, status, exception class): the class each error code (or, failing one, the status)
#: chooses, checked by the core tests and through both clients.
ERROR_CLASSES: list[tuple[str, int, type[agnost.APIError]]] = [
    ("invalid_session_token", 401, agnost.InvalidSessionTokenError),
    ("missing_session_token", 401, agnost.MissingSessionTokenError),
    ("invalid_credentials", 401, agnost.InvalidCredentialsError),
    ("invalid_sign_in_credentials", 401, agnost.InvalidCredentialsError),
    ("email_not_verified", 401, agnost.EmailNotVerifiedError),
    ("not_allowed", 401, agnost.NotAllowedError),
    ("missing_access_token", 400, agnost.AccessTokenError),
    ("invalid_access_token", 403, agnost.AccessTokenError),
    ("user_not_found", 404, agnost.UserNotFoundError),
    ("validation_error", 400, agnost.ValidationError),
    ("internal_server_error", 500, agnost.ServerError),
    ("missing_api_key", 401, agnost.APIKeyError),
    ("invalid_api_key", 401, agnost.APIKeyError),
    ("expired_api_key", 403, agnost.APIKeyError),
    ("unsupported_media_type", 415, agnost.APIError),
    ("invalid_request_body_syntax", 400, agnost.APIError),
    ("something_new", 503, agnost.ServerError),
    ("something_new", 418, agnost.APIError),
]
