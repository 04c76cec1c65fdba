"""The published build over HTTP: catalog and manifests (`catalog`), build events (`events`), the
streaming plan (`plan`), immutable objects (`objects`), the browser viewer (`viewer`, files in
`static/`, app icons drawn by `icons`), the API description (`openapi`), live rebuild (`watch`), and
production helpers (`nginx`, `tls`)."""
