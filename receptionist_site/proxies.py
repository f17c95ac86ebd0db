"""Which address a request comes from, when proxies stand in front of the server."""

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def trusting_proxies(app, proxies: list[str]):
    """Believe X-Forwarded-For (and -Proto) only from `proxies` (addresses or networks).

    The client is the rightmost forwarded address that is not one of our proxies.
    daphne's own --proxy-headers takes the leftmost from anyone, which any client
    can write, so it is not used.
    """
    return ProxyHeadersMiddleware(app, trusted_hosts=proxies) if proxies else app
