"""Hostile text for the report: markup that would run script or load something if it were ever
rendered as HTML/Markdown instead of shown as data. Every active payload calls back to a loopback
URL (``{cb}/<name>``) and sets ``window.__pwned``, so a browser test can tell that it ran."""

from __future__ import annotations


def payloads(cb: str) -> list[str]:
    """Return hostile strings whose side effects (if any) reach ``cb`` (a loopback base URL)."""
    js = "window.__pwned=(window.__pwned||0)+1;fetch('{cb}/{name}')"

    def run(name: str) -> str:
        return js.format(cb=cb, name=name)

    return [
        f"<script>{run('script')}</script>",
        f"\"><script>{run('attr-break')}</script>",
        f"</textarea></pre></code></td></table><script>{run('close-tags')}</script>",
        f"<img src=x onerror=\"{run('img-onerror')}\">",
        f"<svg onload=\"{run('svg-onload')}\"><circle r=5 /></svg>",
        f"<svg><script>{run('svg-script')}</script></svg>",
        f"<svg><use href=\"{cb}/svg-use.svg#x\"/></svg>",
        f"<body onload=\"{run('body-onload')}\">",
        f"<details open ontoggle=\"{run('ontoggle')}\">x</details>",
        f"<input autofocus onfocus=\"{run('onfocus')}\">",
        f"<a href=\"javascript:{run('js-link')}\">click me</a>",
        f"[click me](javascript:{run('md-js-link')})",
        f"![pixel]({cb}/md-image.png)",
        f"<img src=\"{cb}/img.png\">",
        f"<img srcset=\"{cb}/srcset.png 2x\">",
        f"<iframe src=\"{cb}/iframe\"></iframe>",
        f"<iframe srcdoc=\"<script>{run('srcdoc')}</script>\"></iframe>",
        f"<object data=\"{cb}/object\"></object><embed src=\"{cb}/embed\">",
        f"<link rel=stylesheet href=\"{cb}/link.css\"><link rel=prefetch href=\"{cb}/prefetch\">",
        f"<style>@import url({cb}/import.css); body {{ background: url({cb}/style-bg.png) }}</style>",
        f"<div style=\"background-image:url({cb}/inline-bg.png)\">styled</div>",
        f"<meta http-equiv=\"refresh\" content=\"0;url={cb}/meta-refresh\">",
        f"<base href=\"{cb}/base/\"><a href=\"relative\">rel</a>",
        f"<form action=\"{cb}/form\"><button>go</button></form>",
        f"<video poster=\"{cb}/poster.png\"></video><audio src=\"{cb}/audio.mp3\" autoplay></audio>",
        f"<math><mtext><table><mglyph><style><img src=x onerror=\"{run('mxss')}\">",
        "{{ 7*7 }} {% for x in range(3) %}jinja{% endfor %} ${7*7} #{7*7}",
        "../../../../etc/passwd ..\\..\\windows\\win.ini /%2e%2e/%2e%2e/etc/shadow",
        "nul\x00bell\x07esc\x1b[31mred\x1b[0m vt\x0b ff\x0c del\x7f c1\x85\x9b",
        "\u202eRTL override\u202c zero\u200bwidth \ufeffbom",
    ]


__all__ = ["payloads"]
