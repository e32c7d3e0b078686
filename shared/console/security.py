"""The headers every console response carries: a Content-Security-Policy without 'unsafe-inline' (our own
script and style files only), no framing, no sniffing, no referrer, no caching of pages.

Google's sign-in origins are allowed on the sign-in page only, and only when Sign in with Google is
configured: its client library must be loaded from accounts.google.com and opens its button frame and
popup there (https://developers.google.com/identity/gsi/web/guides/get-google-api-clientid, sections
"Content Security Policy" and "Cross-Origin-Opener-Policy")."""

from __future__ import annotations

from urllib.parse import urlsplit

GSI_CLIENT = "https://accounts.google.com/gsi/client"
GSI_STYLE = "https://accounts.google.com/gsi/style"
GSI = "https://accounts.google.com/gsi/"
CLOUD_STORAGE = "https://storage.googleapis.com"  # where V4 signed media URLs point when deployed
# flask.g key: origins this page's forms may be redirected to (added to form-action), set by the page itself.
FORM_TARGETS = "console_form_targets"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(*, media_origin: str, google_sign_in: bool = False, media_uploads: bool = False,
                            form_targets: tuple[str, ...] = ()) -> str:
    """`form_targets`: origins a form on the page may end up at through our redirect (the platforms'
    consent pages the accounts page's Connect buttons lead to): browsers hold the redirects that
    follow a form submission to form-action too."""
    script, style, connect, frame = ["'self'"], ["'self'"], ["'self'"], []
    if media_uploads:  # the composer PUTs files to V4 signed URLs of the media bucket
        connect.append(media_origin)
    if google_sign_in:
        script.append(GSI_CLIENT)
        style.append(GSI_STYLE)
        connect.append(GSI)
        frame.append(GSI)
    directives = [
        ("default-src", ["'none'"]),
        ("script-src", script),
        ("style-src", style),
        ("img-src", ["'self'", "data:", media_origin]),
        # The review cards' videos, like their images: the console's own redirect (the queue signs a URL only
        # when the browser asks for the file) to a signed URL at the media origin.
        ("media-src", ["'self'", media_origin]),
        ("connect-src", connect),
        ("frame-src", frame),
        ("form-action", ["'self'", *sorted(set(form_targets))]),
        ("frame-ancestors", ["'none'"]),
        ("base-uri", ["'none'"]),
    ]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives if sources)


def security_headers(*, media_origin: str, google_sign_in: bool = False, media_uploads: bool = False,
                     form_targets: tuple[str, ...] = ()) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(media_origin=media_origin, google_sign_in=google_sign_in,
                                                           media_uploads=media_uploads, form_targets=form_targets),
        # Google's sign-in frame learns the page's origin from the Referer (its docs ask for one); the origin
        # is all it gets, never the path or query. Everywhere else nothing is referred.
        "Referrer-Policy": "strict-origin" if google_sign_in else "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # Google's popup reports back to the page that opened it; elsewhere no cross-origin window keeps a handle.
        "Cross-Origin-Opener-Policy": "same-origin-allow-popups" if google_sign_in else "same-origin",
    }
