"""The floor: a minimal Django 5.2 project serving the same users as the portal's tenant.

It has its own tiny app (one ``TenantUser`` table, copied row for row from the portal's
tenant, with the same indexes), its own settings, a 50-row page in a small layout template
with keyset paging, a prefix search as a MATERIALIZED CTE over the prefix indexes, and a
set-based Enable. ``python -m bench`` drives it in a second process (``bench.floor.worker``)
in the same rounds as the portal, so machine load falls on both alike; every figure is then
printed as portal, floor and their ratio (issue 15).
"""
