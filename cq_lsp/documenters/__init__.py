"""Documenters: pure functions from (path, content, language, context) to a FileRecord.

They never touch the ledger or the index (principle 3), so they run anywhere: in the
worker, in a hook's process as a sync fallback, or on another machine.
"""
