"""The export package for a public records request: a signed BagIt bag a requester can open
and verify offline (original WARC records, a WACZ, a redacted reading copy, indexes)."""
