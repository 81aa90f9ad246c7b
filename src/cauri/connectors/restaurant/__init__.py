"""Restaurant connectors (issue 14): point of sale, suppliers, reservations, CRM.

One abstract interface per kind with unified models (:mod:`.base`), so replacing Square by Lightspeed changes
configuration, not code; every connector passes its kind's contract suite (:mod:`.contract`) against its own
simulator over loopback HTTP. Connectors are stateless translators: connections, tokens, checkpoints and the
synced records belong to the ``restaurant`` module.
"""
