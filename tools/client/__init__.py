"""The Panda3D client: `halls client URL --hall ID` streams, walks and renders a hall.

Modules: `manifest` (typed manifest), `fetch` (HTTP, hash-keyed cache),
`stream` (background loading), `collision` and `walk` (first person),
`scene` (chunks, light, sky), `app` (the client in a ShowBase), `presence`
and `avatars` (hub), `panels` and `quiz` (exhibits, checkpoints),
`offscreen` (headless renders, thumbnails), `vr` (optional headset),
`command` (arguments).  Panda3D is imported only where a module needs it.
"""

from tools.client.command import add_client_arguments, client_command

__all__ = ["add_client_arguments", "client_command", "render_hall_thumbnail"]


def render_hall_thumbnail(manifest, objects_dir, out, **options):
    """See `tools.client.offscreen.render_hall_thumbnail`."""
    from tools.client.offscreen import render_hall_thumbnail as render

    return render(manifest, objects_dir, out, **options)
