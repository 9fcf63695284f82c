"""The supervisors' workstation: server-rendered pages in the same app as the API (overview at `/`, the rest under
`/ui/`), reading the same storage functions the API handlers read, so every figure on a page is the API's figure for
the same filters. No build step and no request to any other host: Jinja2 templates, charts drawn as SVG on the
server, one stylesheet and one small script served with content-hashed names."""
