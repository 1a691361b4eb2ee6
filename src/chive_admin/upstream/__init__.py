"""All network calls to other servers (PDSes, the PLC directory, did:web hosts): client, SSRF guard, host limits."""
