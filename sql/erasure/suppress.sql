-- The suppression list: the addresses and records found, hashed, under this erasure.
INSERT INTO ops.erased_identities (kind, sha256, email_sha256)
SELECT 'email', ops.sha256_hex(email), %(email_sha256)s FROM _erase_addresses
UNION
SELECT 'record', ops.sha256_hex(source_system || ':' || source_id), %(email_sha256)s FROM _erase_records
UNION
SELECT 'email', %(email_sha256)s, %(email_sha256)s
ON CONFLICT (kind, sha256) DO NOTHING
