"""Photos people upload (enrolment, roll-call answers): what kind of image the bytes are, by their
magic numbers rather than by the Content-Type a client claims."""

# The formats a browser can show and a phone camera makes: (leading bytes, offset, content type).
_SIGNATURES = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"WEBP", 8, "image/webp"),  # a RIFF container: "RIFF", size, then "WEBP"
)
CONTENT_TYPES = tuple(kind for _, _, kind in _SIGNATURES)
ACCEPTED = ", ".join(CONTENT_TYPES)


def image_type(content: bytes) -> str | None:
    """The image's content type, or None when the bytes are not JPEG, PNG or WebP."""
    for magic, at, kind in _SIGNATURES:
        if content[at : at + len(magic)] == magic and (at == 0 or content.startswith(b"RIFF")):
            return kind
    return None
