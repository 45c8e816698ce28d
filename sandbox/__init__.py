"""A local bpm'online (Creatio) emulator: forms login, OAuth, OData 4, faults.

Written from reference/creatio-api.md; where the real Creatio has a quirk, the
sandbox has it too (see README-level notes in each module).
"""
