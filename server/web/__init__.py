"""The published build over HTTP: catalog and manifests (`catalog`), build events (`events`), the
streaming plan (`plan`), immutable objects (`objects`), the browser viewer (`viewer`, files in
`static/`), live rebuild (`watch`), and production helpers (`nginx`, `tls`)."""
