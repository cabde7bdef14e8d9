"""Email: SMTP and raw-MIME webhooks in, SMTP out; threading, quoted-reply stripping, loop protection."""
