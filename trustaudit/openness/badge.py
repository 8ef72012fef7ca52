"""A shields.io-style SVG badge for a MOF class (deterministic, text escaped)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from trustaudit.openness.components import CLASS_LABELS

#: Colours: qualified classes in greens (as MOT's 'Qualified' badge), unclassified grey.
COLOURS = {"I": "#4c1", "II": "#97ca00", "III": "#a4a61d", "unclassified": "#9f9f9f"}
SHORT = {
    "I": "Class I - Open Science",
    "II": "Class II - Open Tooling",
    "III": "Class III - Open Model",
    "unclassified": "Unclassified",
}

# Approximate Verdana 11px advance widths (shields.io's font), so the layout is stable without a font.
_NARROW = set("fijlrtI!.,:;'|() ")
_WIDE = set("mwMW%@")


def _text_width(text: str) -> int:
    width = 0.0
    for ch in text:
        if ch in _NARROW:
            width += 4.0
        elif ch in _WIDE:
            width += 10.0
        elif ch.isupper() or ch.isdigit():
            width += 7.5
        else:
            width += 6.5
    return round(width)


def badge_svg(mof_class: str, *, label: str = "MOF", progress: float | None = None) -> str:
    """The SVG text of a badge for ``mof_class`` ('I', 'II', 'III' or 'unclassified')."""
    if mof_class not in CLASS_LABELS:
        raise ValueError(f"unknown MOF class {mof_class!r}; use I, II, III or unclassified")
    message = SHORT[mof_class]
    if mof_class == "unclassified" and progress is not None:
        message = f"Unclassified ({round(progress)}%)"
    colour = COLOURS[mof_class]
    lw = _text_width(label) + 10
    mw = _text_width(message) + 10
    total = lw + mw
    title = f"{label}: {message}"
    t = escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f"aria-label={quoteattr(title)}>"
        f"<title>{t}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{mw}" height="20" fill="{colour}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{lw / 2:.1f}" y="14">{escape(label)}</text>'
        f'<text x="{lw + mw / 2:.1f}" y="14">{escape(message)}</text>'
        "</g></svg>\n"
    )
