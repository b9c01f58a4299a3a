"""Wire objects exactly as protocol.md §4 shows them, shared by the tests."""

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
