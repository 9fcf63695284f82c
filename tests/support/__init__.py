"""What the tests share: fakes of the servers the service talks to (a scripted AMI), the app over HTTP with a
bootstrap token, the app live on a loopback port for sync clients (a browser, schemathesis), Chromium's launch
and page checks, seeded rows, the real-Asterisk reference, and the small waits every async test needs."""
