"""Service URLs as operators may see them: the address stays, the password never shows.

An error that says "Redis unreachable" without the address sends people hunting through configuration;
one that prints the URL as configured leaks its password into terminals and log pipelines.
"""

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def masked_url(url: str) -> str:
    """``redis://user:***@host:6379/0``: the URL with any password replaced, everything else kept."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if not at:
        return url
    user, colon, password = userinfo.partition(":")
    if colon and password:
        userinfo = f"{user}:{MASK}"
    return urlunsplit((parts.scheme, f"{userinfo}@{hosts}", parts.path, parts.query, parts.fragment))
