-- A destination URL that carries its own credential (a Slack or Discord webhook's token in the
-- path, a `sig=` or `token=` in the query) is a secret: `url` then holds it masked, and
-- `url_secret` the whole URL encrypted (AES-GCM), decrypted only to send.
ALTER TABLE alert_policies ADD COLUMN url_secret TEXT;
